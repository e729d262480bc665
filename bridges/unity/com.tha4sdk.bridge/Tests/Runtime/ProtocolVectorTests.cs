// The core's MessagePack, ZMTP and frame code against docs/protocol_vectors.json (shared by every client).
using System.Collections.Generic;
using NUnit.Framework;

namespace Tha4Sdk.Bridge.Tests
{
    [TestFixture]
    public class ProtocolVectorTests
    {
        static Dictionary<string, object> Section(string name) { return (Dictionary<string, object>)TestDaemon.Vectors[name]; }

        static Dictionary<string, object> Map(object o) { return (Dictionary<string, object>)o; }

        static IEnumerable<Dictionary<string, object>> EncodedPairs()
        {
            foreach (object v in (List<object>)Section("msgpack")["values"]) yield return Map(v);
            foreach (object v in (List<object>)TestDaemon.Vectors["errors"]) yield return Map(v);
            foreach (object v in (List<object>)TestDaemon.Vectors["events"]) yield return Map(v);
            yield return Map(Section("frame")["envelope"]);
            foreach (object entry in Section("ops").Values)
            {
                yield return Map(Map(entry)["request"]);
                yield return Map(Map(entry)["reply"]);
            }
        }

        [Test]
        public void EveryValueAndEnvelopeDecodesAndEncodesToTheSameBytes()
        {
            int count = 0;
            foreach (Dictionary<string, object> pair in EncodedPairs())
            {
                string hex = (string)pair["hex"];
                Assert.AreEqual(hex, TestDaemon.ToHex(MsgPack.Encode(MsgPack.Decode(TestDaemon.Hex(hex)))));
                count++;
            }
            Assert.Greater(count, 40);
        }

        /// <summary>A value as text with every number as a double (JSON does not tell 1 from 1.0).</summary>
        static string Canon(object value)
        {
            var map = value as Dictionary<string, object>;
            if (map != null)
            {
                var keys = new List<string>(map.Keys);
                keys.Sort(string.CompareOrdinal);
                return "{" + string.Join(",", keys.ConvertAll(k => k + ":" + Canon(map[k])).ToArray()) + "}";
            }
            var list = value as List<object>;
            if (list != null) return "[" + string.Join(",", list.ConvertAll(Canon).ToArray()) + "]";
            if (value is string || value is bool || value == null) return value == null ? "nil" : "'" + value + "'";
            return System.Convert.ToDouble(value).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        }

        [Test]
        public void EveryDecodedValueIsTheVectorsValue()
        {
            foreach (Dictionary<string, object> pair in EncodedPairs())
                Assert.AreEqual(Canon(pair["value"]), Canon(MsgPack.Decode(TestDaemon.Hex((string)pair["hex"]))));
            foreach (object item in (List<object>)Section("msgpack")["decode_only"])
            {
                var pair = Map(item);
                Assert.AreEqual(Canon(pair["value"]), Canon(MsgPack.Decode(TestDaemon.Hex((string)pair["hex"]))), (string)pair["format"]);
            }
        }

        [Test]
        public void InvalidBytesAreRejected()
        {
            foreach (string section in new[] { "invalid", "refused_in_requests" })
                foreach (object item in (List<object>)Section("msgpack")[section])
                {
                    byte[] bytes = TestDaemon.Hex((string)Map(item)["hex"]);
                    Assert.Throws<System.FormatException>(() => MsgPack.Decode(bytes), (string)Map(item)["what"]);
                }
        }

        [Test]
        public void ReadyCommandsAreTheVectorsBytes()
        {
            var ready = Map(Section("zmtp")["ready"]);
            foreach (string kind in new[] { "DEALER", "SUB" })
            {
                byte[] body = ZmtpSocket.ReadyCommand(kind);
                Assert.AreEqual((string)ready[kind], "04" + body.Length.ToString("x2") + TestDaemon.ToHex(body));
            }
        }

        static string Request(string op)
        {
            return (string)Map(Map(Section("ops")[op])["request"])["hex"];
        }

        static long Id(string op)
        {
            return (long)(double)Map(Map(Map(Section("ops")[op])["request"])["value"])["id"];
        }

        [Test]
        public void TypedCallsWriteTheVectorsRequests()
        {
            const string s = "s0123abcd";
            var pose = new Dictionary<string, double> { { "head_x", 0.5 }, { "mouth_aaa", 1.0 } };
            Assert.AreEqual(Request("pose.set"),
                            TestDaemon.ToHex(MsgPack.Encode(DaemonClient.Envelope(Id("pose.set"), "pose.set", DaemonClient.PoseArgs(s, pose, false, false)))));
            Assert.AreEqual(Request("expression.set"),
                            TestDaemon.ToHex(MsgPack.Encode(DaemonClient.Envelope(Id("expression.set"), "expression.set", DaemonClient.ExpressionArgs(s, "smile", 0.8, false)))));
            var idle = DaemonClient.AttachArgs(s, "idle", new Dictionary<string, object> { { "seed", 0 } });
            Assert.AreEqual(Request("source.attach"),
                            TestDaemon.ToHex(MsgPack.Encode(DaemonClient.Envelope(Id("source.attach"), "source.attach", idle))));
            var budgeted = DaemonClient.DistillArgs("lambda_00", "lambda_00_student", 0, "tha4", 1800.0);
            Assert.AreEqual(Request("distill.start"),
                            TestDaemon.ToHex(MsgPack.Encode(DaemonClient.Envelope(Id("distill.start"), "distill.start", budgeted))));
        }

        [Test]
        public void TheFrameVectorIsReadAsAFrame()
        {
            var frame = Section("frame");
            var envelope = Map(MsgPack.Decode(TestDaemon.Hex((string)Map(frame["envelope"])["hex"])));
            Tha4Frame f = Tha4Frame.FromMessage(Map(envelope["data"]), TestDaemon.Hex((string)frame["payload"]));
            Assert.AreEqual(2, f.Width);
            Assert.AreEqual(1, f.Height);
            Assert.AreEqual((string)frame["payload"], TestDaemon.ToHex(f.Pixels));
            Assert.AreEqual(0.5, f.Pose[Tha4Pose.IndexOf("head_x")]);
            Assert.AreEqual("s0123abcd", f.Session);
        }

        [Test]
        public void JobProgressIsReadAsAJob()
        {
            foreach (object item in (List<object>)TestDaemon.Vectors["events"])
            {
                var envelope = Map(MsgPack.Decode(TestDaemon.Hex((string)Map(item)["hex"])));
                if ((string)envelope["event"] != "job.progress") continue;
                Tha4Job job = Tha4Job.FromInfo(Map(Map(envelope["data"])["job"]));
                Assert.AreEqual("running", job.State);
                Assert.AreEqual(250, job.Examples);
                Assert.AreEqual(0.25, job.Fraction, 1e-12);
                Assert.AreEqual("body", job.Phase);
                Assert.AreEqual(1234.0, job.EtaSeconds);
                Assert.AreEqual(31.5, job.Psnr);
                Assert.AreEqual("face", job.PsnrPhase);
                Assert.AreEqual("lambda_00_student: running 250/1000, 1234 s left, PSNR 31.5 dB (face)", job.ToString());
                Assert.IsFalse(job.Finished);
                return;
            }
            Assert.Fail("no job.progress event in the vectors");
        }
    }
}
