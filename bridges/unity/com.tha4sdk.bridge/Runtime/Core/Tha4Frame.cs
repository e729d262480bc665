// A rendered frame as the daemon sends it (docs/protocol.md §7): the FRAME-HEADER and the RGBA8 pixels.
using System;
using System.Collections.Generic;

namespace Tha4Sdk.Bridge
{
    /// <summary>One frame: straight-alpha sRGB RGBA8 pixels, rows from the top row down.</summary>
    public sealed class Tha4Frame
    {
        public string Session;
        public string Character;
        public long Seq;
        /// <summary>When rendering finished (daemon clock, Unix seconds).</summary>
        public double Time;
        public int Width;
        public int Height;
        public byte[] Pixels;
        /// <summary>The 45 pose values rendered (official order), or null when the stream leaves them out.</summary>
        public double[] Pose;

        /// <summary>Read a FRAME-HEADER and its pixel frame; FormatException when they do not fit together.</summary>
        public static Tha4Frame FromMessage(Dictionary<string, object> header, byte[] pixels)
        {
            var format = Field<string>(header, "format");
            if (format != "rgba8") throw new FormatException("frame format " + format + " is not rgba8");
            var frame = new Tha4Frame {
                Session = Field<string>(header, "session"),
                Character = header.ContainsKey("character") ? header["character"] as string : null,
                Seq = Field<long>(header, "seq"),
                Time = Convert.ToDouble(header["t"]),
                Width = (int)Field<long>(header, "w"),
                Height = (int)Field<long>(header, "h"),
                Pixels = pixels,
            };
            if ((long)frame.Width * frame.Height * 4 != pixels.Length)
                throw new FormatException("a " + frame.Width + "x" + frame.Height + " rgba8 frame cannot have " + pixels.Length + " bytes");
            object pose;
            if (header.TryGetValue("pose", out pose) && pose is List<object>)
                frame.Pose = ((List<object>)pose).ConvertAll(Convert.ToDouble).ToArray();
            return frame;
        }

        static T Field<T>(Dictionary<string, object> header, string key)
        {
            object v;
            if (!header.TryGetValue(key, out v) || !(v is T))
                throw new FormatException("frame header field '" + key + "' is missing or not a " + typeof(T).Name);
            return (T)v;
        }

        /// <summary>Copy the pixels with the bottom row first, as Texture2D.LoadRawTextureData expects.</summary>
        public void CopyBottomUp(byte[] destination)
        {
            int stride = Width * 4;
            if (destination.Length != Pixels.Length) throw new ArgumentException("destination must hold " + Pixels.Length + " bytes");
            for (int row = 0; row < Height; row++)
                Buffer.BlockCopy(Pixels, row * stride, destination, (Height - 1 - row) * stride, stride);
        }
    }
}
