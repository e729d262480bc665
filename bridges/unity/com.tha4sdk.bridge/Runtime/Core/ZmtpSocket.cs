// The ZMTP 3.1 subset of docs/protocol.md §2 over a plain TCP socket: NULL greeting, READY, and the
// framing a DEALER (control channel) or SUB (frame channel) needs. Plain C#, blocking; use it from one thread.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tha4Sdk.Bridge
{
    /// <summary>The daemon closed the connection, broke the protocol, or refused the handshake.</summary>
    public class ZmtpException : IOException
    {
        public ZmtpException(string message) : base(message) { }
    }

    /// <summary>One ZMTP connection to the daemon (DEALER or SUB side).</summary>
    public sealed class ZmtpSocket : IDisposable
    {
        const byte More = 0x01, Long = 0x02, Command = 0x04;
        /// <summary>Largest frame accepted from the daemon (a 2048×2048 RGBA frame is 16 MiB).</summary>
        public const long MaxFrameBytes = 64L << 20;

        readonly Socket socket;
        readonly byte[] buffer = new byte[1 << 16];
        int start, end;  // unread bytes are buffer[start..end)
        readonly int messageTimeoutMs;

        ZmtpSocket(Socket socket, int messageTimeoutMs)
        {
            this.socket = socket;
            this.messageTimeoutMs = messageTimeoutMs;
        }

        /// <summary>Connect to HOST:PORT and do the NULL handshake as <paramref name="socketType"/>
        /// ("DEALER" or "SUB"). <paramref name="timeoutMs"/> bounds the connection, the handshake, and later
        /// the arrival of the rest of a message once its first byte came.</summary>
        public static ZmtpSocket Connect(string host, int port, string socketType, int timeoutMs)
        {
            IPAddress address = Resolve(host);
            var s = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                IAsyncResult pending = s.BeginConnect(address, port, null, null);
                if (!pending.AsyncWaitHandle.WaitOne(timeoutMs))
                    throw new TimeoutException("no TCP connection to " + host + ":" + port + " within " + timeoutMs + " ms");
                s.EndConnect(pending);
                s.NoDelay = true;
                s.ReceiveBufferSize = 4 << 20;
                s.ReceiveTimeout = timeoutMs;
                s.SendTimeout = timeoutMs;
                var z = new ZmtpSocket(s, timeoutMs);
                z.Handshake(socketType);
                return z;
            }
            catch
            {
                s.Close();
                throw;
            }
        }

        static IPAddress Resolve(string host)
        {
            IPAddress address;
            if (IPAddress.TryParse(host, out address)) return address;
            IPAddress[] all = Dns.GetHostAddresses(host);
            foreach (IPAddress a in all) if (a.AddressFamily == AddressFamily.InterNetwork) return a;
            if (all.Length == 0) throw new ZmtpException("cannot resolve " + host);
            return all[0];
        }

        /// <summary>The 64-byte greeting each way (§2.1) and the READY commands (§2.2).</summary>
        void Handshake(string socketType)
        {
            var greeting = new byte[64];
            greeting[0] = 0xff;
            greeting[9] = 0x7f;
            greeting[10] = 3;
            greeting[11] = 1;
            Encoding.ASCII.GetBytes("NULL", 0, 4, greeting, 12);
            SendAll(greeting, 0, greeting.Length);
            byte[] theirs = ReadExactly(64);
            if (theirs[0] != 0xff || theirs[9] != 0x7f || theirs[10] != 3 || Encoding.ASCII.GetString(theirs, 12, 4) != "NULL")
                throw new ZmtpException("not a ZMTP 3 peer with the NULL mechanism (is this the tha4 daemon's port?)");

            SendFrame(Command, ReadyCommand(socketType));
            bool isCommand;
            byte[] body = ReadFrame(out isCommand);
            string name = body.Length > 0 && body[0] <= body.Length - 1 ? Encoding.ASCII.GetString(body, 1, body[0]) : "";
            if (!isCommand || (name != "READY" && name != "ERROR"))
                throw new ZmtpException("expected the daemon's READY command, got something else");
            if (name == "ERROR")
            {
                int at = 1 + body[0];
                string reason = at < body.Length ? Encoding.UTF8.GetString(body, at + 1, Math.Min(body[at], body.Length - at - 1)) : "";
                throw new ZmtpException("the daemon refused the connection: " + reason);
            }
        }

        /// <summary>READY with one property, Socket-Type (§2.2).</summary>
        public static byte[] ReadyCommand(string socketType)
        {
            var body = new MemoryStream();
            WriteShortString(body, "READY");
            WriteShortString(body, "Socket-Type");
            byte[] value = Encoding.ASCII.GetBytes(socketType);
            body.Write(new byte[] { 0, 0, 0, (byte)value.Length }, 0, 4);
            body.Write(value, 0, value.Length);
            return body.ToArray();
        }

        static void WriteShortString(Stream o, string s)
        {
            o.WriteByte((byte)s.Length);
            byte[] b = Encoding.ASCII.GetBytes(s);
            o.Write(b, 0, b.Length);
        }

        /// <summary>Send one message made of <paramref name="frames"/> (§2.3).</summary>
        public void Send(params byte[][] frames)
        {
            for (int i = 0; i < frames.Length; i++) SendFrame(i < frames.Length - 1 ? More : (byte)0, frames[i]);
        }

        /// <summary>Subscribe the SUB side to topics starting with <paramref name="prefix"/> (§2.5).</summary>
        public void Subscribe(string prefix)
        {
            byte[] topic = Encoding.UTF8.GetBytes(prefix);
            var body = new byte[topic.Length + 1];
            body[0] = 1;
            Buffer.BlockCopy(topic, 0, body, 1, topic.Length);
            Send(body);
        }

        /// <summary>The next message's frames, or null when none starts within <paramref name="timeoutMs"/>.
        /// Throws ZmtpException when the connection is closed.</summary>
        public List<byte[]> Receive(int timeoutMs)
        {
            if (start == end && !socket.Poll(Math.Max(0, timeoutMs) * 1000, SelectMode.SelectRead)) return null;
            var message = new List<byte[]>();
            while (true)
            {
                bool isCommand;
                byte[] body = ReadFrame(out isCommand, out bool more);
                if (isCommand) { if (message.Count == 0) continue; throw new ZmtpException("a command inside a message"); }
                message.Add(body);
                if (!more) return message;
            }
        }

        void SendFrame(byte flags, byte[] body)
        {
            bool isLong = body.Length > 255;
            var header = new byte[isLong ? 9 : 2];
            header[0] = (byte)(flags | (isLong ? Long : 0));
            if (isLong) for (int i = 0; i < 8; i++) header[1 + i] = (byte)((ulong)body.Length >> (56 - 8 * i));
            else header[1] = (byte)body.Length;
            if (body.Length <= 4096)
            {
                var whole = new byte[header.Length + body.Length];
                Buffer.BlockCopy(header, 0, whole, 0, header.Length);
                Buffer.BlockCopy(body, 0, whole, header.Length, body.Length);
                SendAll(whole, 0, whole.Length);
            }
            else
            {
                SendAll(header, 0, header.Length);
                SendAll(body, 0, body.Length);
            }
        }

        byte[] ReadFrame(out bool isCommand)
        {
            bool more;
            return ReadFrame(out isCommand, out more);
        }

        byte[] ReadFrame(out bool isCommand, out bool more)
        {
            byte flags = ReadExactly(1)[0];
            if ((flags & ~(More | Long | Command)) != 0)
                throw new ZmtpException("bad ZMTP frame flags 0x" + flags.ToString("x2"));
            isCommand = (flags & Command) != 0;
            more = (flags & More) != 0;
            ulong size = 0;
            if ((flags & Long) != 0) foreach (byte b in ReadExactly(8)) size = (size << 8) | b;
            else size = ReadExactly(1)[0];
            if (size > (ulong)MaxFrameBytes)
                throw new ZmtpException("a " + size + "-byte frame is larger than " + MaxFrameBytes + " bytes");
            return ReadExactly((int)size);
        }

        byte[] ReadExactly(int n)
        {
            var result = new byte[n];
            int have = Math.Min(n, end - start);
            Buffer.BlockCopy(buffer, start, result, 0, have);
            start += have;
            while (have < n)
            {
                if (n - have >= buffer.Length)
                {
                    have += ReceiveSome(result, have, n - have);  // large bodies go straight to their array
                    continue;
                }
                start = 0;
                end = ReceiveSome(buffer, 0, buffer.Length);
                int take = Math.Min(n - have, end);
                Buffer.BlockCopy(buffer, 0, result, have, take);
                start = take;
                have += take;
            }
            return result;
        }

        int ReceiveSome(byte[] into, int offset, int count)
        {
            int got;
            try
            {
                got = socket.Receive(into, offset, count, SocketFlags.None);
            }
            catch (SocketException e)
            {
                if (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
                    throw new ZmtpException("the rest of a message did not arrive within " + messageTimeoutMs + " ms");
                throw new ZmtpException("connection lost: " + e.Message);
            }
            if (got == 0) throw new ZmtpException("the daemon closed the connection");
            return got;
        }

        void SendAll(byte[] data, int offset, int count)
        {
            try
            {
                while (count > 0)
                {
                    int sent = socket.Send(data, offset, count, SocketFlags.None);
                    offset += sent;
                    count -= sent;
                }
            }
            catch (SocketException e)
            {
                throw new ZmtpException("connection lost: " + e.Message);
            }
        }

        public void Dispose()
        {
            socket.Close();
        }
    }
}
