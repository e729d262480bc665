// Test driver for the Unity bridge, run under Mono by tests/test_bridge_unity.py against a real daemon.
//
//   BridgeCheck.exe encode                                  hex of the protocol-doc envelopes, built in C#
//   BridgeCheck.exe decode < HEX                            a MessagePack value (hex on stdin) as JSON
//   BridgeCheck.exe pose-fields                             Tha4Pose names and indexer, as JSON
//   BridgeCheck.exe render HOST PORT CHARACTER POSE OUT     load, pose.set, render → OUT.rgba + OUT.json
//   BridgeCheck.exe stream HOST PORT CHARACTER RENDERER FPS POSE SESSIONS FRAMES OUT [EXTRA]
//        CharacterStream until FRAMES frames showing POSE came from each of SESSIONS sessions (a daemon
//        restart makes a new session); the last one → OUT.rgba (bottom row first, as uploaded to Unity) + OUT.json.
//        EXTRA: more parameters set with POSE but not looked for in the frames.
//   BridgeCheck.exe bench HOST PORT CHARACTER SECONDS      frames/s received from a max-rate stream, and taken
//        and flipped for upload by a game loop (as Tha4Character does), as JSON
//
// POSE is "name=value,name=value". Progress lines go to stdout: "event …", "frame {json}".
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using Tha4Sdk.Bridge;

static class BridgeCheck
{
    static int Main(string[] args)
    {
        try
        {
            switch (args[0])
            {
                case "encode": return Encode();
                case "decode": Console.WriteLine(Json(MsgPack.Decode(FromHex(Console.In.ReadToEnd().Trim())))); return 0;
                case "pose-fields": return PoseFields();
                case "render": return Render(args[1], int.Parse(args[2]), args[3], ParsePose(args[4]), args[5]);
                case "stream":
                    return Stream(args[1], int.Parse(args[2]), args[3], args[4], Num(args[5]), ParsePose(args[6]),
                                  int.Parse(args[7]), int.Parse(args[8]), args[9],
                                  ParsePose(args.Length > 10 ? args[10] : ""));
                case "bench": return Bench(args[1], int.Parse(args[2]), args[3], Num(args[4]));
            }
            Console.Error.WriteLine("unknown command " + args[0]);
            return 2;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            return 1;
        }
    }

    static int Encode()
    {
        var hello = new Dictionary<string, object> {
            { "v", 1 }, { "id", 1 }, { "op", "hello" }, { "args", new Dictionary<string, object> { { "client", "godot" } } },
        };
        var pose = new Dictionary<string, object> {
            { "v", 1 }, { "id", 3 }, { "op", "pose.set" },
            { "args", DaemonClient.PoseArgs("s0123abcd", new Dictionary<string, double> { { "head_x", 0.5 }, { "mouth_aaa", 1.0 } }, false, false) },
        };
        Console.WriteLine(Hex(MsgPack.Encode(hello)));
        Console.WriteLine(Hex(MsgPack.Encode(pose)));
        Console.WriteLine(Hex(ZmtpSocket.ReadyCommand("DEALER")));
        return 0;
    }

    static int PoseFields()
    {
        var pose = new Tha4Pose();
        var values = new List<object>();
        for (int i = 0; i < Tha4Pose.Count; i++) pose[i] = i / 100f;
        for (int i = 0; i < Tha4Pose.Count; i++) values.Add((double)pose[i]);
        Console.WriteLine(Json(new Dictionary<string, object> {
            { "names", new List<object>(Tha4Pose.Names) }, { "values", values },
            { "head_x", (double)pose.head_x }, { "breathing", (double)pose.breathing },
        }));
        return 0;
    }

    static int Render(string host, int port, string character, Dictionary<string, double> pose, string output)
    {
        using (var client = new DaemonClient(host, port, 10000, "unity-test"))
        {
            client.Connect();
            string session = client.Load(character);
            client.SetPose(session, pose, true);
            Tha4Frame frame = client.Render(session);
            File.WriteAllBytes(output + ".rgba", frame.Pixels);
            File.WriteAllText(output + ".json", Json(Describe(frame)));
            client.Unload(session);
        }
        return 0;
    }

    static int Stream(string host, int port, string character, string renderer, double fps,
                      Dictionary<string, double> pose, int sessions, int frames, string output,
                      Dictionary<string, double> extra)
    {
        var seen = new Dictionary<string, int>();
        DateTime deadline = DateTime.UtcNow.AddSeconds(120);
        using (var stream = new CharacterStream(host, port, character, renderer, fps) { ClientName = "unity-test" })
        {
            stream.SetPose(pose);
            stream.SetPose(extra);
            stream.Start();
            while (DateTime.UtcNow < deadline)
            {
                StreamEvent e;
                while (stream.TryTakeEvent(out e)) Console.WriteLine("event " + e);
                Tha4Frame frame = stream.TakeLatestFrame();  // as Tha4Character.LateUpdate does, once per game frame
                if (frame == null)
                {
                    Thread.Sleep(5);
                    continue;
                }
                Console.WriteLine("frame " + Json(Describe(frame)));
                if (!Shows(frame, pose)) continue;
                int count;
                seen.TryGetValue(frame.Session, out count);
                seen[frame.Session] = ++count;
                if (seen.Count >= sessions && count >= frames)
                {
                    var bottomUp = new byte[frame.Pixels.Length];
                    frame.CopyBottomUp(bottomUp);
                    File.WriteAllBytes(output + ".rgba", bottomUp);
                    File.WriteAllText(output + ".json", Json(Describe(frame)));
                    Console.WriteLine("connections " + stream.Connections);
                    return 0;
                }
            }
        }
        Console.Error.WriteLine("timed out; frames showing the pose per session: " + Json(ToObjects(seen)));
        return 1;
    }

    static int Bench(string host, int port, string character, double seconds)
    {
        using (var stream = new CharacterStream(host, port, character, "solid", 1000) { ClientName = "unity-bench" })
        {
            stream.Start();
            DateTime deadline = DateTime.UtcNow.AddSeconds(60);
            while (stream.FramesReceived == 0 && DateTime.UtcNow < deadline) Thread.Sleep(5);
            if (stream.FramesReceived == 0) throw new TimeoutException("no frame within 60 s");
            long first = stream.FramesReceived;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            long taken = 0;
            byte[] bottomUp = null;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                Tha4Frame frame = stream.TakeLatestFrame();  // as Tha4Character.LateUpdate, without the frame-rate cap
                if (frame == null)
                {
                    Thread.Sleep(1);
                    continue;
                }
                if (bottomUp == null) bottomUp = new byte[frame.Pixels.Length];
                frame.CopyBottomUp(bottomUp);
                taken++;
            }
            double elapsed = clock.Elapsed.TotalSeconds;
            long received = stream.FramesReceived - first;
            Console.WriteLine(Json(new Dictionary<string, object> {
                { "frames", received }, { "seconds", elapsed }, { "fps", received / elapsed }, { "shown_fps", taken / elapsed },
            }));
        }
        return 0;
    }

    static bool Shows(Tha4Frame frame, Dictionary<string, double> pose)
    {
        if (frame.Pose == null) return false;
        foreach (KeyValuePair<string, double> p in pose)
            if (Math.Abs(frame.Pose[Tha4Pose.IndexOf(p.Key)] - p.Value) > 1e-6) return false;
        return true;
    }

    static Dictionary<string, object> Describe(Tha4Frame frame)
    {
        return new Dictionary<string, object> {
            { "session", frame.Session }, { "character", frame.Character }, { "seq", frame.Seq },
            { "w", (long)frame.Width }, { "h", (long)frame.Height }, { "bytes", (long)frame.Pixels.Length },
            { "pose", frame.Pose == null ? null : ToObjects(frame.Pose) },
            { "first_pixel", ToObjects(new[] { frame.Pixels[0], frame.Pixels[1], frame.Pixels[2], frame.Pixels[3] }) },
        };
    }

    static List<object> ToObjects<T>(IEnumerable<T> items)
    {
        var list = new List<object>();
        foreach (T item in items) list.Add(item);
        return list;
    }

    static Dictionary<string, object> ToObjects(Dictionary<string, int> map)
    {
        var d = new Dictionary<string, object>();
        foreach (KeyValuePair<string, int> p in map) d[p.Key] = (long)p.Value;
        return d;
    }

    static Dictionary<string, double> ParsePose(string text)
    {
        var pose = new Dictionary<string, double>();
        foreach (string pair in text.Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=');
            pose[kv[0]] = Num(kv[1]);
        }
        return pose;
    }

    static double Num(string s) { return double.Parse(s, CultureInfo.InvariantCulture); }

    static byte[] FromHex(string hex)
    {
        var bytes = new byte[hex.Length / 2];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
        return bytes;
    }

    static string Hex(byte[] bytes) { return BitConverter.ToString(bytes).Replace("-", " ").ToLowerInvariant(); }

    static string Json(object v)
    {
        if (v == null) return "null";
        if (v is bool) return (bool)v ? "true" : "false";
        if (v is string) return JsonString((string)v);
        if (v is double) return ((double)v).ToString("R", CultureInfo.InvariantCulture);
        if (v is byte[]) return "{\"bin\": \"" + Hex((byte[])v).Replace(" ", "") + "\"}";
        if (v is long || v is ulong || v is int || v is byte) return Convert.ToString(v, CultureInfo.InvariantCulture);
        var parts = new List<string>();
        var map = v as IDictionary;
        if (map != null)
        {
            foreach (DictionaryEntry e in map) parts.Add(JsonString((string)e.Key) + ": " + Json(e.Value));
            return "{" + string.Join(", ", parts.ToArray()) + "}";
        }
        foreach (object item in (IEnumerable)v) parts.Add(Json(item));
        return "[" + string.Join(", ", parts.ToArray()) + "]";
    }

    static string JsonString(string s)
    {
        var b = new StringBuilder("\"");
        foreach (char c in s)
        {
            if (c == '"' || c == '\\') b.Append('\\').Append(c);
            else if (c < 0x20) b.Append("\\u").Append(((int)c).ToString("x4"));
            else b.Append(c);
        }
        return b.Append('"').ToString();
    }
}
