// The control channel (docs/protocol.md §4–§6): requests and replies over a DEALER connection.
using System;
using System.Collections.Generic;

namespace Tha4Sdk.Bridge
{
    /// <summary>An error reply from the daemon: <see cref="Code"/> is one of the codes of protocol §5.</summary>
    public class DaemonException : Exception
    {
        public readonly string Code;
        public readonly Dictionary<string, object> Error;

        public DaemonException(string code, string message, Dictionary<string, object> error = null)
            : base(code + ": " + message)
        {
            Code = code;
            Error = error ?? new Dictionary<string, object>();
        }
    }

    /// <summary>A successful reply: the result map and the binary frames after the envelope.</summary>
    public sealed class Reply
    {
        public readonly Dictionary<string, object> Result;
        public readonly List<byte[]> Buffers;

        public Reply(Dictionary<string, object> result, List<byte[]> buffers)
        {
            Result = result;
            Buffers = buffers;
        }
    }

    /// <summary>A blocking connection to the daemon's control port. One thread at a time.</summary>
    public sealed class DaemonClient : IDisposable
    {
        public const int ProtocolVersion = 1;
        public const int DefaultPort = 47000;

        public readonly string Host;
        public readonly int Port;
        public readonly int TimeoutMs;
        readonly string clientName;
        ZmtpSocket control;
        long nextId = 1;
        readonly Dictionary<long, List<byte[]>> early = new Dictionary<long, List<byte[]>>();

        /// <summary>The daemon's hello result (frame_port, heartbeat_s, parameters, …), after Connect.</summary>
        public Dictionary<string, object> Hello { get; private set; }

        public DaemonClient(string host = "127.0.0.1", int port = DefaultPort, int timeoutMs = 10000,
                            string clientName = "unity")
        {
            Host = host;
            Port = port;
            TimeoutMs = timeoutMs;
            this.clientName = clientName;
        }

        /// <summary>Open the control channel and say hello (protocol §6 hello).</summary>
        public void Connect()
        {
            control = ZmtpSocket.Connect(Host, Port, "DEALER", TimeoutMs);
            Hello = Request("hello", new Dictionary<string, object> { { "client", clientName } }).Result;
            var spoken = Hello.ContainsKey("protocols") ? (List<object>)Hello["protocols"] : new List<object>();
            if (!spoken.Contains((long)ProtocolVersion))
                throw new DaemonException("unsupported_version", "the daemon does not speak protocol " + ProtocolVersion);
        }

        public int FramePort { get { return (int)(long)Hello["frame_port"]; } }
        public double HeartbeatSeconds { get { return Convert.ToDouble(Hello["heartbeat_s"]); } }

        /// <summary>Send a request without waiting; returns its id for <see cref="WaitReply"/>.</summary>
        public long Send(string op, IDictionary<string, object> args = null)
        {
            if (control == null) throw new InvalidOperationException("call Connect first");
            long id = nextId++;
            control.Send(MsgPack.Encode(Envelope(id, op, args)));
            return id;
        }

        /// <summary>A request envelope (protocol §4): {v, id, op, args}.</summary>
        public static Dictionary<string, object> Envelope(long id, string op, IDictionary<string, object> args)
        {
            return new Dictionary<string, object> {
                { "v", ProtocolVersion }, { "id", id }, { "op", op },
                { "args", args ?? new Dictionary<string, object>() },
            };
        }

        /// <summary>Wait for the reply to request <paramref name="id"/>; DaemonException for an error reply,
        /// TimeoutException when none comes in time.</summary>
        public Reply WaitReply(long id, int timeoutMs)
        {
            DateTime deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            List<byte[]> message;
            while (!early.TryGetValue(id, out message))
            {
                int left = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
                if (left <= 0) throw new TimeoutException("no reply from " + Host + ":" + Port + " within " + timeoutMs + " ms (is `tha4 serve` running?)");
                List<byte[]> got = control.Receive(left);
                if (got == null) continue;
                var head = MsgPack.Decode(got[0]) as Dictionary<string, object>;
                object replyId;
                if (head != null && head.TryGetValue("id", out replyId) && replyId is long && (long)replyId < nextId)
                    early[(long)replyId] = got;  // a reply to this or another request still being waited for
            }
            early.Remove(id);
            var envelope = (Dictionary<string, object>)MsgPack.Decode(message[0]);
            if (!(envelope.ContainsKey("ok") && envelope["ok"] is bool && (bool)envelope["ok"]))
            {
                var error = envelope.ContainsKey("error") ? envelope["error"] as Dictionary<string, object> : null;
                error = error ?? new Dictionary<string, object>();
                throw new DaemonException(Text(error, "code", "internal"), Text(error, "message", ""), error);
            }
            var result = envelope.ContainsKey("result") ? envelope["result"] as Dictionary<string, object> : null;
            return new Reply(result ?? new Dictionary<string, object>(), message.GetRange(1, message.Count - 1));
        }

        /// <summary>Send one request and wait for its reply.</summary>
        public Reply Request(string op, IDictionary<string, object> args = null, int timeoutMs = -1)
        {
            return WaitReply(Send(op, args), timeoutMs < 0 ? TimeoutMs : timeoutMs);
        }

        static string Text(Dictionary<string, object> map, string key, string fallback)
        {
            object v;
            return map.TryGetValue(key, out v) && v is string ? (string)v : fallback;
        }

        // ---- operations (protocol §6) ---------------------------------------------------------------------
        /// <summary>Load a character (a store name or an allowed absolute folder); returns its session id.</summary>
        public string Load(string character, string renderer = "student", int timeoutMs = 300000)
        {
            var args = new Dictionary<string, object> { { "character", character }, { "renderer", renderer } };
            return (string)Request("character.load", args, timeoutMs).Result["session"];
        }

        /// <summary>Change pose parameters by name; with <paramref name="reset"/> the others return to rest, with
        /// <paramref name="clamp"/> values beyond a parameter's range are clamped instead of rejected.</summary>
        public void SetPose(string session, IDictionary<string, double> parameters, bool reset = false, bool clamp = false)
        {
            Request("pose.set", PoseArgs(session, parameters, reset, clamp));
        }

        /// <summary>The args of a pose.set request.</summary>
        public static Dictionary<string, object> PoseArgs(string session, IDictionary<string, double> parameters,
                                                          bool reset, bool clamp)
        {
            var values = new Dictionary<string, object>();
            foreach (KeyValuePair<string, double> p in parameters) values[p.Key] = p.Value;
            return new Dictionary<string, object> {
                { "session", session }, { "params", values }, { "reset", reset }, { "clamp", clamp },
            };
        }

        /// <summary>The daemon's expression presets: name → the parameters it moves at full weight.</summary>
        public Dictionary<string, Dictionary<string, double>> Presets()
        {
            var presets = new Dictionary<string, Dictionary<string, double>>();
            foreach (object item in (List<object>)Request("presets.list").Result["presets"])
            {
                var preset = (Dictionary<string, object>)item;
                presets[(string)preset["name"]] = Numbers((Dictionary<string, object>)preset["params"]);
            }
            return presets;
        }

        /// <summary>Set the parameters an expression preset moves ("smile" at <paramref name="weight"/> in [0, 1]);
        /// the others keep their values. Returns the parameters set.</summary>
        public Dictionary<string, double> SetExpression(string session, string preset, double weight = 1.0,
                                                        bool reset = false)
        {
            Reply reply = Request("expression.set", ExpressionArgs(session, preset, weight, reset));
            return Numbers((Dictionary<string, object>)reply.Result["params"]);
        }

        /// <summary>The args of an expression.set request.</summary>
        public static Dictionary<string, object> ExpressionArgs(string session, string preset, double weight, bool reset)
        {
            return new Dictionary<string, object> {
                { "session", session }, { "preset", preset }, { "weight", weight }, { "reset", reset },
            };
        }

        /// <summary>The session's own pose: all 45 parameters by name.</summary>
        public Dictionary<string, double> GetPose(string session)
        {
            Reply reply = Request("pose.get", new Dictionary<string, object> { { "session", session } });
            return Numbers((Dictionary<string, object>)reply.Result["params"]);
        }

        /// <summary>Attach a pose-source or pose-filter plugin (protocol §6 source.attach) with its constructor
        /// <paramref name="args"/>; returns the attachment's id for <see cref="Detach"/>.</summary>
        public string Attach(string session, string source, IDictionary<string, object> args = null,
                             int timeoutMs = 60000)
        {
            return (string)Request("source.attach", AttachArgs(session, source, args), timeoutMs).Result["source"];
        }

        /// <summary>The args of a source.attach request.</summary>
        public static Dictionary<string, object> AttachArgs(string session, string source, IDictionary<string, object> args)
        {
            var plugin = new Dictionary<string, object>();
            if (args != null) foreach (KeyValuePair<string, object> a in args) plugin[a.Key] = a.Value;
            return new Dictionary<string, object> { { "session", session }, { "source", source }, { "args", plugin } };
        }

        public void Detach(string session, string attachment)
        {
            Request("source.detach", new Dictionary<string, object> { { "session", session }, { "source", attachment } });
        }

        /// <summary>Play a YAML timeline file (docs/timeline.md) on the session; a path the daemon can read.</summary>
        public string PlayTimeline(string session, string path)
        {
            return Attach(session, "timeline", new Dictionary<string, object> { { "timeline", path } });
        }

        /// <summary>Idle life: blinking, breathing and a little head motion (the idle filter), seeded.</summary>
        public string AttachIdle(string session, int seed = 0)
        {
            return Attach(session, "idle", new Dictionary<string, object> { { "seed", seed } });
        }

        /// <summary>Lip-sync the mouth to a WAV/FLAC file the daemon can read (the audio source).</summary>
        public string Say(string session, string audioFile)
        {
            return Attach(session, "audio", new Dictionary<string, object> { { "input", audioFile } });
        }

        // ---- distillation jobs (protocol §6 distill.*) ----------------------------------------------------
        /// <summary>Queue a job training a student for <paramref name="character"/> into the store as
        /// <paramref name="output"/>; examples 0: the official schedule. <paramref name="timeBudget"/> &gt; 0:
        /// seconds the job plans itself to end within instead of examples (protocol 1.3; at least 60; not
        /// with examples: the daemon refuses both with bad_args).</summary>
        public Tha4Job Distill(string character, string output, long examples = 0, string teacher = "tha4",
                               double timeBudget = 0)
        {
            return JobOf(Request("distill.start", DistillArgs(character, output, examples, teacher, timeBudget)));
        }

        /// <summary>The args of distill.start, as <see cref="Distill"/> sends them.</summary>
        public static Dictionary<string, object> DistillArgs(string character, string output, long examples,
                                                             string teacher, double timeBudget)
        {
            var args = new Dictionary<string, object> { { "character", character }, { "output", output }, { "teacher", teacher } };
            if (examples > 0) args["examples"] = examples;
            if (timeBudget > 0) args["time_budget"] = timeBudget;
            return args;
        }

        public Tha4Job Job(string job) { return JobOf(Request("distill.status", JobArgs(job))); }

        public Tha4Job Cancel(string job) { return JobOf(Request("distill.cancel", JobArgs(job))); }

        public List<Tha4Job> Jobs()
        {
            var jobs = new List<Tha4Job>();
            foreach (object info in (List<object>)Request("distill.list").Result["jobs"])
                jobs.Add(Tha4Job.FromInfo((Dictionary<string, object>)info));
            return jobs;
        }

        static Dictionary<string, object> JobArgs(string job) { return new Dictionary<string, object> { { "job", job } }; }

        static Tha4Job JobOf(Reply reply) { return Tha4Job.FromInfo((Dictionary<string, object>)reply.Result["job"]); }

        static Dictionary<string, double> Numbers(Dictionary<string, object> map)
        {
            var numbers = new Dictionary<string, double>();
            foreach (KeyValuePair<string, object> p in map) numbers[p.Key] = Convert.ToDouble(p.Value);
            return numbers;
        }

        /// <summary>Render the session's current pose now (rgba8).</summary>
        public Tha4Frame Render(string session, int timeoutMs = 300000)
        {
            Reply reply = Request("render", new Dictionary<string, object> { { "session", session } }, timeoutMs);
            return Tha4Frame.FromMessage((Dictionary<string, object>)reply.Result["frame"], reply.Buffers[0]);
        }

        /// <summary>Publish the session's frames (rgba8) at most <paramref name="fps"/> a second;
        /// width/height 0 keep the native size.</summary>
        public void StartStream(string session, double fps, int width = 0, int height = 0)
        {
            var args = new Dictionary<string, object> { { "session", session }, { "fps", fps }, { "format", "rgba8" } };
            if (width > 0 && height > 0) args["size"] = new List<object> { width, height };
            Request("stream.start", args);
        }

        public void StopStream(string session)
        {
            Request("stream.stop", new Dictionary<string, object> { { "session", session } });
        }

        public void Unload(string session)
        {
            Request("character.unload", new Dictionary<string, object> { { "session", session } });
        }

        /// <summary>A subscriber on the frame channel for topics starting with the given prefixes.</summary>
        public FrameSubscriber Subscribe(params string[] prefixes)
        {
            var sub = new FrameSubscriber(ZmtpSocket.Connect(Host, FramePort, "SUB", TimeoutMs));
            foreach (string prefix in prefixes) sub.Subscribe(prefix);
            return sub;
        }

        public void Dispose()
        {
            if (control != null) control.Dispose();
        }
    }
}
