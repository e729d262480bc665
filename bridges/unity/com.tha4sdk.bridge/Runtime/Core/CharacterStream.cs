// Keeps one character streaming from the daemon on a background thread, across daemon restarts:
// connect → hello → character.load → pose.set → stream.start → receive frames; on any failure back off
// (0.1 s doubling to 2 s) and start over (docs/protocol.md §9). The game thread sets the pose and takes
// the newest frame; nothing here touches UnityEngine.
using System;
using System.Collections.Generic;
using System.Threading;

namespace Tha4Sdk.Bridge
{
    public enum StreamState { Stopped, Connecting, Loading, Streaming, Waiting }

    /// <summary>What happened on the stream, for the game thread (<see cref="CharacterStream.TryTakeEvent"/>).</summary>
    public sealed class StreamEvent
    {
        /// <summary>"connected", "loaded", "disconnected", "error", or a daemon event kind ("job.progress", …).</summary>
        public string Kind;
        public string Message;
        /// <summary>The daemon event's data (job events: {job: JOB-INFO}); null for the bridge's own kinds.</summary>
        public Dictionary<string, object> Data;

        public override string ToString() { return Kind + (Message != null ? ": " + Message : ""); }
    }

    /// <summary>A pose source or filter attached through <see cref="CharacterStream"/>: a timeline, lip-sync, idle.</summary>
    public sealed class Attachment
    {
        /// <summary>The plugin: "timeline", "audio", "idle", …</summary>
        public readonly string Source;
        public readonly Dictionary<string, object> Args;
        /// <summary>Attached again after a reconnection (idle life); one-shots (a timeline, a saying) are not.</summary>
        public readonly bool Keep;
        volatile string id;

        public Attachment(string source, Dictionary<string, object> args, bool keep)
        {
            Source = source;
            Args = args;
            Keep = keep;
        }

        /// <summary>The daemon's id for it (changes after a reconnection); null until attached.</summary>
        public string Id { get { return id; } internal set { id = value; } }
    }

    /// <summary>A character streamed from the daemon; survives daemon restarts by reloading it.</summary>
    public sealed class CharacterStream : IDisposable
    {
        public readonly string Host;
        public readonly int Port;
        public readonly string Character;
        public readonly string Renderer;
        public readonly double Fps;
        public readonly int Width, Height;
        public int TimeoutMs = 10000;
        public string ClientName = "unity";

        readonly object gate = new object();
        readonly Dictionary<string, double> pose = new Dictionary<string, double>();
        readonly Dictionary<string, double> changed = new Dictionary<string, double>();
        readonly Queue<StreamEvent> events = new Queue<StreamEvent>();
        const int MaxQueuedEvents = 256;
        readonly Queue<Action<DaemonClient, string>> commands = new Queue<Action<DaemonClient, string>>();
        readonly List<Attachment> kept = new List<Attachment>();
        readonly ManualResetEvent stopping = new ManualResetEvent(false);
        Tha4Frame latest;
        DaemonClient client;
        FrameSubscriber subscriber;
        Thread worker;
        volatile StreamState state = StreamState.Stopped;
        string session, previousSession;
        long framesReceived, connections;

        /// <summary>A stream of <paramref name="character"/> (store name or allowed absolute folder) rendered by
        /// <paramref name="renderer"/>; width/height 0 keep the native 512×512.</summary>
        public CharacterStream(string host, int port, string character, string renderer = "student",
                               double fps = 30, int width = 0, int height = 0)
        {
            Host = host;
            Port = port;
            Character = character;
            Renderer = renderer;
            Fps = fps;
            Width = width;
            Height = height;
        }

        public StreamState State { get { return state; } }
        /// <summary>The daemon session now streaming (a new one after each reconnection), or null.</summary>
        public string Session { get { lock (gate) return session; } }
        public long FramesReceived { get { return Interlocked.Read(ref framesReceived); } }
        /// <summary>How many times the stream was (re)established.</summary>
        public long Connections { get { return Interlocked.Read(ref connections); } }

        public void Start()
        {
            if (worker != null) throw new InvalidOperationException("already started");
            worker = new Thread(Run) { IsBackground = true, Name = "tha4 " + Character };
            worker.Start();
        }

        /// <summary>Change pose parameters by name (the others keep their values). Thread-safe; the newest
        /// value of each parameter is sent, and the whole pose is sent again after a reconnection. Values beyond a
        /// parameter's range are clamped (an Animator may overshoot); unknown names are dropped with an "error"
        /// event.</summary>
        public void SetPose(IDictionary<string, double> parameters)
        {
            lock (gate)
            {
                foreach (KeyValuePair<string, double> p in parameters)
                {
                    double old;
                    if (pose.TryGetValue(p.Key, out old) && old == p.Value) continue;
                    pose[p.Key] = p.Value;
                    changed[p.Key] = p.Value;
                }
            }
        }

        // ---- typed calls: queued here, sent by the worker in order (after the pose changes of the moment) ----
        /// <summary>Set the parameters an expression preset moves ("smile", "surprised", "blink", the vowels …) to
        /// their values × <paramref name="weight"/>; the others keep theirs. An "expression" event carries the
        /// parameters set (Data: name → value), and they are sent again after a reconnection like any pose.</summary>
        public void SetExpression(string preset, double weight = 1.0)
        {
            Enqueue((c, s) => {
                Dictionary<string, double> set = c.SetExpression(s, preset, weight);
                var data = new Dictionary<string, object>();
                lock (gate)
                {
                    foreach (KeyValuePair<string, double> p in set)
                    {
                        pose[p.Key] = p.Value;
                        changed.Remove(p.Key);
                        data[p.Key] = p.Value;
                    }
                }
                Publish("expression", preset, data);
            });
        }

        /// <summary>Play a YAML timeline file (docs/timeline.md; a path the daemon can read) once.</summary>
        public Attachment PlayTimeline(string path)
        {
            return Attach(new Attachment("timeline", new Dictionary<string, object> { { "timeline", path } }, false));
        }

        /// <summary>Idle life (blinking, breathing, slight head motion), kept across reconnections.</summary>
        public Attachment AttachIdle(int seed = 0)
        {
            return Attach(new Attachment("idle", new Dictionary<string, object> { { "seed", seed } }, true));
        }

        /// <summary>Lip-sync the mouth to a WAV/FLAC file the daemon can read.</summary>
        public Attachment Say(string audioFile)
        {
            return Attach(new Attachment("audio", new Dictionary<string, object> { { "input", audioFile } }, false));
        }

        /// <summary>Lip-sync to interleaved samples in [-1, 1] (an AudioClip's data): written to a temporary
        /// WAV file the daemon reads (the daemon runs on this machine: loopback only).</summary>
        public Attachment Say(float[] samples, int channels, int sampleRate)
        {
            string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tha4-say-" + Guid.NewGuid().ToString("N") + ".wav");
            Wav.Write(path, samples, channels, sampleRate);
            return Say(path);
        }

        /// <summary>Attach any pose-source or filter plugin; an "attached" event follows (Message: its id).</summary>
        public Attachment Attach(Attachment attachment)
        {
            if (attachment.Keep) lock (gate) kept.Add(attachment);
            Enqueue((c, s) => AttachNow(c, s, attachment));
            return attachment;
        }

        public void Detach(Attachment attachment)
        {
            lock (gate) kept.Remove(attachment);
            Enqueue((c, s) => {
                string id = attachment.Id;
                attachment.Id = null;
                if (id != null) c.Detach(s, id);
            });
        }

        void AttachNow(DaemonClient c, string s, Attachment attachment)
        {
            attachment.Id = c.Attach(s, attachment.Source, attachment.Args);
            Publish("attached", attachment.Id, new Dictionary<string, object> { { "source", attachment.Id }, { "name", attachment.Source } });
        }

        void Enqueue(Action<DaemonClient, string> command)
        {
            lock (gate) commands.Enqueue(command);
        }

        void RunCommands(DaemonClient c, string s)
        {
            while (true)
            {
                Action<DaemonClient, string> command;
                lock (gate)
                {
                    if (commands.Count == 0) return;
                    command = commands.Peek();
                }
                try
                {
                    command(c, s);
                }
                catch (DaemonException e)
                {
                    if (e.Code == "not_found" && e.Message.Contains(s)) throw;  // the session is gone: reload, retry
                    Publish("error", e.Message, e.Error);
                }
                lock (gate) commands.Dequeue();
            }
        }

        /// <summary>The newest frame not taken yet, or null. Older frames are dropped.</summary>
        public Tha4Frame TakeLatestFrame()
        {
            lock (gate)
            {
                Tha4Frame f = latest;
                latest = null;
                return f;
            }
        }

        public bool TryTakeEvent(out StreamEvent e)
        {
            lock (gate)
            {
                e = events.Count > 0 ? events.Dequeue() : null;
                return e != null;
            }
        }

        void Publish(string kind, string message, Dictionary<string, object> data = null)
        {
            lock (gate)
            {
                if (events.Count >= MaxQueuedEvents) events.Dequeue();
                events.Enqueue(new StreamEvent { Kind = kind, Message = message, Data = data });
            }
        }

        void Run()
        {
            int backoffMs = 100;
            while (!stopping.WaitOne(0))
            {
                try
                {
                    RunConnected(ref backoffMs);
                }
                catch (Exception e)
                {
                    if (stopping.WaitOne(0)) break;
                    Publish(e is DaemonException ? "error" : "disconnected", e.Message);
                }
                finally
                {
                    Close();
                }
                state = StreamState.Waiting;
                stopping.WaitOne(backoffMs);
                backoffMs = Math.Min(backoffMs * 2, 2000);
            }
            state = StreamState.Stopped;
        }

        void RunConnected(ref int backoffMs)
        {
            state = StreamState.Connecting;
            var c = new DaemonClient(Host, Port, TimeoutMs, ClientName);
            lock (gate) client = c;
            c.Connect();
            var sub = c.Subscribe("event.");
            lock (gate) subscriber = sub;
            Publish("connected", Host + ":" + Port);

            state = StreamState.Loading;
            UnloadQuietly(c, previousSession);  // a session the daemon kept after we lost the connection
            string s = c.Load(Character, Renderer);
            previousSession = s;
            sub.Subscribe("frame." + s);
            Dictionary<string, double> whole;
            lock (gate)
            {
                session = s;
                DropUnknown(pose, (List<object>)c.Hello["parameters"]);
                whole = new Dictionary<string, double>(pose);
                changed.Clear();
            }
            c.SetPose(s, whole, true, true);
            List<Attachment> keep;
            lock (gate) keep = new List<Attachment>(kept);
            foreach (Attachment attachment in keep)  // attached to the lost session (those still queued come later)
                if (attachment.Id != null) AttachNow(c, s, attachment);
            c.StartStream(s, Fps, Width, Height);
            Publish("loaded", s);
            Interlocked.Increment(ref connections);
            state = StreamState.Streaming;
            backoffMs = 100;

            int silenceMs = (int)(3000 * c.HeartbeatSeconds);
            DateTime lastHeard = DateTime.UtcNow;
            while (!stopping.WaitOne(0))
            {
                SendPoseChanges(c, s);
                RunCommands(c, s);
                Published message = sub.Receive(20);
                if (message == null)
                {
                    if ((DateTime.UtcNow - lastHeard).TotalMilliseconds > silenceMs)
                        throw new ZmtpException("no heartbeat from the daemon for " + silenceMs + " ms");
                    continue;
                }
                lastHeard = DateTime.UtcNow;
                Dispatch(message, s);
            }
            UnloadQuietly(c, s);
            previousSession = null;
        }

        /// <summary>Remove names the daemon does not know (a typo would make every pose.set fail).</summary>
        void DropUnknown(Dictionary<string, double> values, List<object> known)
        {
            var unknown = new List<string>();
            foreach (string name in values.Keys) if (!known.Contains(name)) unknown.Add(name);
            foreach (string name in unknown)
            {
                values.Remove(name);
                pose.Remove(name);
                Publish("error", "unknown pose parameter '" + name + "' (see hello.parameters)");
            }
        }

        static void UnloadQuietly(DaemonClient c, string s)
        {
            if (s == null) return;
            try
            {
                c.Unload(s);
            }
            catch (DaemonException)
            {
                // not_found: a restarted daemon has no sessions
            }
        }

        void SendPoseChanges(DaemonClient c, string s)
        {
            Dictionary<string, double> delta;
            lock (gate)
            {
                if (changed.Count == 0) return;
                DropUnknown(changed, (List<object>)c.Hello["parameters"]);
                delta = new Dictionary<string, double>(changed);
                changed.Clear();
            }
            if (delta.Count == 0) return;
            try
            {
                c.SetPose(s, delta, false, true);
            }
            catch (DaemonException e)
            {
                if (e.Code == "not_found") throw;  // the session is gone: reload
                Publish("error", e.Message);       // a bad value: report it, keep streaming
            }
        }

        void Dispatch(Published message, string s)
        {
            string kind = message.Kind;
            if (kind == "frame")
            {
                Tha4Frame frame = FrameSubscriber.FrameOf(message);
                lock (gate) latest = frame;
                Interlocked.Increment(ref framesReceived);
                return;
            }
            Dictionary<string, object> data = message.Data;
            object about;
            bool ours = data != null && data.TryGetValue("session", out about) && (about as string) == s;
            if (kind == "session.unloaded" && ours) throw new DaemonException("not_found", "session " + s + " was unloaded");
            if (kind == "session.error" && ours) Publish("error", data.ContainsKey("message") ? data["message"] as string : "", data);
            else if (kind != null && kind.StartsWith("job.")) Publish(kind, null, data);
        }

        void Close()
        {
            DaemonClient c;
            FrameSubscriber sub;
            lock (gate)
            {
                c = client;
                sub = subscriber;
                client = null;
                subscriber = null;
                session = null;
            }
            if (sub != null) sub.Dispose();
            if (c != null) c.Dispose();
        }

        /// <summary>Stop streaming: the worker unloads the session and closes the connections (forced after
        /// 1.5 s when it waits on the daemon).</summary>
        public void Dispose()
        {
            stopping.Set();
            if (worker != null && !worker.Join(1500))
            {
                Close();
                worker.Join(1000);
            }
            Close();
        }
    }
}
