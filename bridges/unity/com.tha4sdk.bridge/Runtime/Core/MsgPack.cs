// MessagePack subset of docs/protocol.md §3: what the tha4 daemon sends and what a bridge sends to it.
// Plain C# (no UnityEngine, no reflection): values are null, bool, long, double, string, byte[],
// List<object> and Dictionary<string, object>.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Tha4Sdk.Bridge
{
    /// <summary>Encodes and decodes MessagePack values (protocol §3).</summary>
    public static class MsgPack
    {
        const int MaxDepth = 32;

        /// <summary>Encode a value: null, bool, any integer type, float/double, string, IDictionary with string
        /// keys, or IList (arrays included).</summary>
        public static byte[] Encode(object value)
        {
            var output = new MemoryStream();
            Write(output, value, 0);
            return output.ToArray();
        }

        /// <summary>Decode exactly one value that fills <paramref name="data"/> (FormatException otherwise).</summary>
        public static object Decode(byte[] data)
        {
            int pos = 0;
            object value = Read(data, ref pos, 0);
            if (pos != data.Length)
                throw new FormatException("MessagePack: " + (data.Length - pos) + " bytes after the value");
            return value;
        }

        // ---- encoder ----------------------------------------------------------------------------------------
        static void Write(Stream o, object v, int depth)
        {
            if (depth > MaxDepth) throw new ArgumentException("MessagePack: nested deeper than " + MaxDepth);
            if (v == null) { o.WriteByte(0xc0); return; }
            if (v is bool) { o.WriteByte((bool)v ? (byte)0xc3 : (byte)0xc2); return; }
            if (v is string) { WriteString(o, (string)v); return; }
            if (v is double) { WriteDouble(o, (double)v); return; }
            if (v is float) { WriteDouble(o, (float)v); return; }
            if (v is ulong) { WriteUInt64(o, (ulong)v); return; }
            if (v is sbyte || v is byte || v is short || v is ushort || v is int || v is uint || v is long)
            {
                WriteInt64(o, Convert.ToInt64(v));
                return;
            }
            var map = v as IDictionary;
            if (map != null)
            {
                WriteHeader(o, map.Count, 0x80, 0xde, 16);
                foreach (DictionaryEntry e in map)
                {
                    var key = e.Key as string;
                    if (key == null) throw new ArgumentException("MessagePack: map keys must be strings");
                    WriteString(o, key);
                    Write(o, e.Value, depth + 1);
                }
                return;
            }
            var list = v as IList;
            if (list != null)
            {
                WriteHeader(o, list.Count, 0x90, 0xdc, 16);
                foreach (object item in list) Write(o, item, depth + 1);
                return;
            }
            throw new ArgumentException("MessagePack: cannot encode a " + v.GetType().Name);
        }

        /// <summary>fix form below <paramref name="fixLimit"/>, else the 16-bit (code) or 32-bit (code+1) form.</summary>
        static void WriteHeader(Stream o, int count, int fixCode, int code16, int fixLimit)
        {
            if (count < fixLimit) o.WriteByte((byte)(fixCode | count));
            else if (count <= 0xffff) { o.WriteByte((byte)code16); WriteBigEndian(o, (ulong)count, 2); }
            else { o.WriteByte((byte)(code16 + 1)); WriteBigEndian(o, (ulong)count, 4); }
        }

        static void WriteString(Stream o, string s)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(s);
            int n = utf8.Length;
            if (n < 32) o.WriteByte((byte)(0xa0 | n));
            else if (n <= 0xff) { o.WriteByte(0xd9); o.WriteByte((byte)n); }
            else if (n <= 0xffff) { o.WriteByte(0xda); WriteBigEndian(o, (ulong)n, 2); }
            else { o.WriteByte(0xdb); WriteBigEndian(o, (ulong)n, 4); }
            o.Write(utf8, 0, n);
        }

        static void WriteDouble(Stream o, double d)
        {
            o.WriteByte(0xcb);
            WriteBigEndian(o, (ulong)BitConverter.DoubleToInt64Bits(d), 8);
        }

        static void WriteInt64(Stream o, long n)
        {
            if (n >= 0) { WriteUInt64(o, (ulong)n); return; }
            if (n >= -32) { o.WriteByte((byte)(sbyte)n); return; }
            if (n >= sbyte.MinValue) { o.WriteByte(0xd0); WriteBigEndian(o, (ulong)n, 1); }
            else if (n >= short.MinValue) { o.WriteByte(0xd1); WriteBigEndian(o, (ulong)n, 2); }
            else if (n >= int.MinValue) { o.WriteByte(0xd2); WriteBigEndian(o, (ulong)n, 4); }
            else { o.WriteByte(0xd3); WriteBigEndian(o, (ulong)n, 8); }
        }

        static void WriteUInt64(Stream o, ulong n)
        {
            if (n <= 0x7f) o.WriteByte((byte)n);
            else if (n <= 0xff) { o.WriteByte(0xcc); o.WriteByte((byte)n); }
            else if (n <= 0xffff) { o.WriteByte(0xcd); WriteBigEndian(o, n, 2); }
            else if (n <= 0xffffffff) { o.WriteByte(0xce); WriteBigEndian(o, n, 4); }
            else { o.WriteByte(0xcf); WriteBigEndian(o, n, 8); }
        }

        static void WriteBigEndian(Stream o, ulong n, int bytes)
        {
            for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) o.WriteByte((byte)(n >> shift));
        }

        // ---- decoder ----------------------------------------------------------------------------------------
        static object Read(byte[] d, ref int pos, int depth)
        {
            if (depth > MaxDepth) throw new FormatException("MessagePack: nested deeper than " + MaxDepth);
            int b = Byte(d, ref pos);
            if (b <= 0x7f) return (long)b;
            if (b >= 0xe0) return (long)(sbyte)b;
            if (b >= 0xa0 && b <= 0xbf) return Str(d, ref pos, b & 0x1f);
            if (b >= 0x90 && b <= 0x9f) return Array(d, ref pos, b & 0x0f, depth);
            if (b >= 0x80 && b <= 0x8f) return Map(d, ref pos, b & 0x0f, depth);
            switch (b)
            {
                case 0xc0: return null;
                case 0xc2: return false;
                case 0xc3: return true;
                case 0xc4: return Bytes(d, ref pos, (int)Uint(d, ref pos, 1));
                case 0xc5: return Bytes(d, ref pos, (int)Uint(d, ref pos, 2));
                case 0xc6: return Bytes(d, ref pos, Length(Uint(d, ref pos, 4)));
                case 0xca: return (double)BitConverter.ToSingle(BitConverter.GetBytes((int)Uint(d, ref pos, 4)), 0);
                case 0xcb: return BitConverter.Int64BitsToDouble((long)Uint(d, ref pos, 8));
                case 0xcc: return (long)Uint(d, ref pos, 1);
                case 0xcd: return (long)Uint(d, ref pos, 2);
                case 0xce: return (long)Uint(d, ref pos, 4);
                case 0xcf:
                {
                    ulong u = Uint(d, ref pos, 8);
                    return u <= long.MaxValue ? (object)(long)u : u;
                }
                case 0xd0: return (long)(sbyte)Uint(d, ref pos, 1);
                case 0xd1: return (long)(short)Uint(d, ref pos, 2);
                case 0xd2: return (long)(int)Uint(d, ref pos, 4);
                case 0xd3: return (long)Uint(d, ref pos, 8);
                case 0xd9: return Str(d, ref pos, (int)Uint(d, ref pos, 1));
                case 0xda: return Str(d, ref pos, (int)Uint(d, ref pos, 2));
                case 0xdb: return Str(d, ref pos, Length(Uint(d, ref pos, 4)));
                case 0xdc: return Array(d, ref pos, (int)Uint(d, ref pos, 2), depth);
                case 0xdd: return Array(d, ref pos, Length(Uint(d, ref pos, 4)), depth);
                case 0xde: return Map(d, ref pos, (int)Uint(d, ref pos, 2), depth);
                case 0xdf: return Map(d, ref pos, Length(Uint(d, ref pos, 4)), depth);
            }
            throw new FormatException("MessagePack: unsupported type byte 0x" + b.ToString("x2") + " at " + (pos - 1));
        }

        static int Byte(byte[] d, ref int pos)
        {
            if (pos >= d.Length) throw new FormatException("MessagePack: truncated value");
            return d[pos++];
        }

        static ulong Uint(byte[] d, ref int pos, int bytes)
        {
            ulong n = 0;
            for (int i = 0; i < bytes; i++) n = (n << 8) | (uint)Byte(d, ref pos);
            return n;
        }

        static int Length(ulong n)
        {
            if (n > int.MaxValue) throw new FormatException("MessagePack: length " + n + " is too large");
            return (int)n;
        }

        static void Need(byte[] d, int pos, long n)
        {
            if (n > d.Length - pos) throw new FormatException("MessagePack: truncated value");
        }

        static string Str(byte[] d, ref int pos, int n)
        {
            Need(d, pos, n);
            string s = Encoding.UTF8.GetString(d, pos, n);
            pos += n;
            return s;
        }

        static byte[] Bytes(byte[] d, ref int pos, int n)
        {
            Need(d, pos, n);
            var b = new byte[n];
            Buffer.BlockCopy(d, pos, b, 0, n);
            pos += n;
            return b;
        }

        static List<object> Array(byte[] d, ref int pos, int n, int depth)
        {
            Need(d, pos, n);  // every item takes at least one byte
            var list = new List<object>(n);
            for (int i = 0; i < n; i++) list.Add(Read(d, ref pos, depth + 1));
            return list;
        }

        static Dictionary<string, object> Map(byte[] d, ref int pos, int n, int depth)
        {
            Need(d, pos, 2L * n);
            var map = new Dictionary<string, object>(n);
            for (int i = 0; i < n; i++)
            {
                var key = Read(d, ref pos, depth + 1) as string;
                if (key == null) throw new FormatException("MessagePack: a map key is not a string");
                map[key] = Read(d, ref pos, depth + 1);
            }
            return map;
        }
    }
}
