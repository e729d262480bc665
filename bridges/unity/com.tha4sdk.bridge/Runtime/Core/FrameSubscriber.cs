// The frame channel (docs/protocol.md §2.5, §7, §8): published frames and events on a SUB connection.
using System;
using System.Collections.Generic;
using System.Text;

namespace Tha4Sdk.Bridge
{
    /// <summary>One published message: its topic, envelope and binary frames.</summary>
    public sealed class Published
    {
        public readonly string Topic;
        public readonly Dictionary<string, object> Envelope;
        public readonly List<byte[]> Buffers;

        public Published(string topic, Dictionary<string, object> envelope, List<byte[]> buffers)
        {
            Topic = topic;
            Envelope = envelope;
            Buffers = buffers;
        }

        /// <summary>The event kind: "frame", "heartbeat", "job.progress", …</summary>
        public string Kind { get { return Envelope.ContainsKey("event") ? Envelope["event"] as string : null; } }

        public Dictionary<string, object> Data
        {
            get { return Envelope.ContainsKey("data") ? Envelope["data"] as Dictionary<string, object> : null; }
        }
    }

    /// <summary>A SUB connection to the daemon's frame port.</summary>
    public sealed class FrameSubscriber : IDisposable
    {
        readonly ZmtpSocket socket;

        public FrameSubscriber(ZmtpSocket socket)
        {
            this.socket = socket;
        }

        /// <summary>Also receive topics starting with <paramref name="prefix"/> ("frame.SESSION", "event.", …).</summary>
        public void Subscribe(string prefix)
        {
            socket.Subscribe(prefix);
        }

        /// <summary>The next published message, or null when none comes within <paramref name="timeoutMs"/>.</summary>
        public Published Receive(int timeoutMs)
        {
            List<byte[]> parts = socket.Receive(timeoutMs);
            if (parts == null) return null;
            if (parts.Count < 2) throw new ZmtpException("a published message without an envelope");
            var envelope = MsgPack.Decode(parts[1]) as Dictionary<string, object>;
            if (envelope == null) throw new ZmtpException("a published envelope that is not a map");
            return new Published(Encoding.UTF8.GetString(parts[0]), envelope, parts.GetRange(2, parts.Count - 2));
        }

        /// <summary>The frame a "frame" message carries.</summary>
        public static Tha4Frame FrameOf(Published message)
        {
            if (message.Kind != "frame" || message.Data == null || message.Buffers.Count < 1)
                throw new FormatException("not a frame message: " + message.Topic);
            return Tha4Frame.FromMessage(message.Data, message.Buffers[0]);
        }

        public void Dispose()
        {
            socket.Dispose();
        }
    }
}
