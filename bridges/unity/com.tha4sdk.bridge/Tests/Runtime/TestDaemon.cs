// Where the tests find the daemon, the character and the protocol vectors: environment variables, set by
// the repository's test runner (tests/test_bridge_unity.py) or by hand in Unity before running the tests:
//   THA4_TEST_PORT       control port of a running `tha4 serve` on 127.0.0.1
//   THA4_TEST_CHARACTER  a character the daemon may load (store name or allowed absolute folder)
//   THA4_TEST_SPEECH     a WAV file with an open vowel ("a"), for the lip-sync tests
//   THA4_PROTOCOL_VECTORS  docs/protocol_vectors.json of the tha4-sdk repository
// Tests whose variable is unset are ignored (Assert.Ignore), so the package's tests pass in a project without them.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using NUnit.Framework;

namespace Tha4Sdk.Bridge.Tests
{
    public static class TestDaemon
    {
        public const string Host = "127.0.0.1";

        public static string Need(string variable)
        {
            string value = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(value)) Assert.Ignore(variable + " is not set (see TestDaemon.cs)");
            return value;
        }

        public static int Port { get { return int.Parse(Need("THA4_TEST_PORT"), CultureInfo.InvariantCulture); } }
        public static string Character { get { return Need("THA4_TEST_CHARACTER"); } }

        /// <summary>A connected client with <see cref="Character"/> loaded by the solid renderer (fast; its red
        /// channel follows head_x and every frame carries the pose).</summary>
        public static DaemonClient Connect(out string session)
        {
            var client = new DaemonClient(Host, Port, 30000, "nunit");
            client.Connect();
            session = client.Load(Character, "solid");
            return client;
        }

        static Dictionary<string, object> vectors;

        /// <summary>docs/protocol_vectors.json, parsed (maps, lists, strings, doubles, bools, nulls).</summary>
        public static Dictionary<string, object> Vectors
        {
            get
            {
                if (vectors == null) vectors = (Dictionary<string, object>)Json.Parse(File.ReadAllText(Need("THA4_PROTOCOL_VECTORS")));
                return vectors;
            }
        }

        public static byte[] Hex(string hex)
        {
            var bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = byte.Parse(hex.Substring(2 * i, 2), NumberStyles.HexNumber);
            return bytes;
        }

        public static string ToHex(byte[] bytes)
        {
            var text = new StringBuilder(bytes.Length * 2);
            foreach (byte b in bytes) text.Append(b.ToString("x2"));
            return text.ToString();
        }

        /// <summary>Read a 16-bit PCM WAV file as interleaved floats.</summary>
        public static float[] ReadWav(string path, out int channels, out int rate)
        {
            byte[] data = File.ReadAllBytes(path);
            channels = BitConverter.ToInt16(data, 22);
            rate = BitConverter.ToInt32(data, 24);
            int at = 12;
            while (Encoding.ASCII.GetString(data, at, 4) != "data") at += 8 + BitConverter.ToInt32(data, at + 4);
            int count = BitConverter.ToInt32(data, at + 4) / 2;
            var samples = new float[count];
            for (int i = 0; i < count; i++) samples[i] = BitConverter.ToInt16(data, at + 8 + 2 * i) / 32768f;
            return samples;
        }
    }

    /// <summary>Just enough JSON to read the vectors file.</summary>
    public static class Json
    {
        public static object Parse(string text)
        {
            int at = 0;
            object value = Value(text, ref at);
            Skip(text, ref at);
            if (at != text.Length) throw new FormatException("JSON: text after the value at " + at);
            return value;
        }

        static void Skip(string t, ref int at) { while (at < t.Length && char.IsWhiteSpace(t[at])) at++; }

        static object Value(string t, ref int at)
        {
            Skip(t, ref at);
            char c = t[at];
            if (c == '{')
            {
                var map = new Dictionary<string, object>();
                at++;
                Skip(t, ref at);
                if (t[at] == '}') { at++; return map; }
                while (true)
                {
                    Skip(t, ref at);
                    string key = Str(t, ref at);
                    Skip(t, ref at);
                    Expect(t, ref at, ':');
                    map[key] = Value(t, ref at);
                    Skip(t, ref at);
                    if (t[at++] == '}') return map;
                }
            }
            if (c == '[')
            {
                var list = new List<object>();
                at++;
                Skip(t, ref at);
                if (t[at] == ']') { at++; return list; }
                while (true)
                {
                    list.Add(Value(t, ref at));
                    Skip(t, ref at);
                    if (t[at++] == ']') return list;
                }
            }
            if (c == '"') return Str(t, ref at);
            foreach (KeyValuePair<string, object> word in Words)
                if (string.CompareOrdinal(t, at, word.Key, 0, word.Key.Length) == 0) { at += word.Key.Length; return word.Value; }
            int start = at;
            while (at < t.Length && "+-0123456789.eE".IndexOf(t[at]) >= 0) at++;
            return double.Parse(t.Substring(start, at - start), CultureInfo.InvariantCulture);
        }

        static readonly Dictionary<string, object> Words = new Dictionary<string, object> { { "true", true }, { "false", false }, { "null", null } };

        static void Expect(string t, ref int at, char c)
        {
            if (t[at] != c) throw new FormatException("JSON: expected '" + c + "' at " + at);
            at++;
        }

        static string Str(string t, ref int at)
        {
            Expect(t, ref at, '"');
            var s = new StringBuilder();
            while (t[at] != '"')
            {
                char c = t[at++];
                if (c != '\\') { s.Append(c); continue; }
                char e = t[at++];
                if (e == 'u') { s.Append((char)int.Parse(t.Substring(at, 4), NumberStyles.HexNumber)); at += 4; }
                else s.Append(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e);
            }
            at++;
            return s.ToString();
        }
    }
}
