// The typed calls (expressions, timelines, idle, lip-sync, jobs) against a live daemon.
using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using NUnit.Framework;

namespace Tha4Sdk.Bridge.Tests
{
    [TestFixture]
    public class TypedCallTests
    {
        [Test]
        public void SetExpressionSetsThePresetsParametersAtTheWeight()
        {
            string s;
            using (DaemonClient client = TestDaemon.Connect(out s))
            {
                Dictionary<string, Dictionary<string, double>> presets = client.Presets();
                Assert.IsTrue(presets.ContainsKey("smile") && presets.ContainsKey("blink"));
                client.SetPose(s, new Dictionary<string, double> { { "head_x", 0.25 } });
                Dictionary<string, double> set = client.SetExpression(s, "smile", 0.5);
                Assert.AreEqual(presets["smile"].Count, set.Count);
                Dictionary<string, double> pose = client.GetPose(s);
                foreach (KeyValuePair<string, double> p in presets["smile"])
                    Assert.AreEqual(p.Value * 0.5, pose[p.Key], 1e-6, p.Key);
                Assert.AreEqual(0.25, pose["head_x"], 1e-6);  // not in the preset: kept
                var error = Assert.Throws<DaemonException>(() => client.SetExpression(s, "smiel"));
                Assert.AreEqual("not_found", error.Code);
                StringAssert.Contains("smile", error.Message);
                client.Unload(s);
            }
        }

        [Test]
        public void JobsAreListedAndUnknownOnesAreNotFound()
        {
            string s;
            using (DaemonClient client = TestDaemon.Connect(out s))
            {
                Assert.IsNotNull(client.Jobs());
                Assert.AreEqual("not_found", Assert.Throws<DaemonException>(() => client.Job("j00000000")).Code);
                client.Unload(s);
            }
        }

        [Test]
        public void ATimeBudgetIsQueuedAndBadOnesAreRefused()
        {
            string s;
            using (DaemonClient client = TestDaemon.Connect(out s))
            {
                string teacher = "student:" + TestDaemon.Character;
                var shortBudget = Assert.Throws<DaemonException>(() => client.Distill(TestDaemon.Character, "unity_bad", 0, teacher, 30));
                Assert.AreEqual("bad_args", shortBudget.Code);
                StringAssert.Contains("time_budget: 30 s is too short", shortBudget.Message);
                var both = Assert.Throws<DaemonException>(() => client.Distill(TestDaemon.Character, "unity_bad", 1000, teacher, 600));
                StringAssert.Contains("time_budget or examples, not both", both.Message);
                Tha4Job job = client.Distill(TestDaemon.Character, "unity_budgeted", 0, teacher, 300);
                Assert.AreEqual(300.0, (double)job.Info["time_budget"]);
                Assert.IsNull(job.Info["examples"]);
                Assert.IsTrue(double.IsNaN(job.EtaSeconds) && double.IsNaN(job.Psnr));
                client.Cancel(job.Id);
                Assert.IsFalse(client.Jobs().Exists(j => j.Output == "unity_bad"));
                client.Unload(s);
            }
        }

        /// <summary>Frames of a CharacterStream until <paramref name="seen"/> holds for one (or the time is up).</summary>
        static Tha4Frame WaitForFrame(CharacterStream stream, Func<Tha4Frame, bool> seen, List<StreamEvent> events, int timeoutMs = 60000)
        {
            DateTime end = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            while (DateTime.UtcNow < end)
            {
                StreamEvent e;
                while (stream.TryTakeEvent(out e)) events.Add(e);
                Tha4Frame frame = stream.TakeLatestFrame();
                if (frame != null && seen(frame)) return frame;
                Thread.Sleep(10);
            }
            Assert.Fail("no frame as expected within " + timeoutMs + " ms; events: " + string.Join(", ", events.ConvertAll(e => e.ToString()).ToArray()));
            return null;
        }

        static double P(Tha4Frame f, string name) { return f.Pose[Tha4Pose.IndexOf(name)]; }

        [Test]
        public void IdleAskedForBeforeTheConnectionIsAttachedOnce()
        {
            var events = new List<StreamEvent>();
            using (var stream = new CharacterStream(TestDaemon.Host, TestDaemon.Port, TestDaemon.Character, "solid", 30))
            {
                Attachment idle = stream.AttachIdle(3);
                stream.Start();
                WaitForFrame(stream, f => P(f, "breathing") > 0.0, events);
                using (var client = new DaemonClient(TestDaemon.Host, TestDaemon.Port, 30000, "nunit"))
                {
                    client.Connect();
                    foreach (object info in (List<object>)client.Request("sessions.list").Result["sessions"])
                    {
                        var session = (Dictionary<string, object>)info;
                        if ((string)session["session"] != stream.Session) continue;
                        var sources = (List<object>)session["sources"];
                        Assert.AreEqual(1, sources.Count);
                        Assert.AreEqual(idle.Id, ((Dictionary<string, object>)sources[0])["source"]);
                        return;
                    }
                    Assert.Fail("the stream's session is not listed");
                }
            }
        }

        [Test]
        public void StreamRunsExpressionTimelineIdleAndSpeech()
        {
            string timeline = Path.Combine(Path.GetTempPath(), "tha4-nunit-" + Guid.NewGuid().ToString("N") + ".yaml");
            File.WriteAllText(timeline, "version: 1\nduration: 60\ntracks:\n  - param: head_x\n    keys:\n"
                                        + "      - {t: 0, value: 0.75}\n      - {t: 60, value: 0.75}\n");
            int channels, rate;
            float[] speech = TestDaemon.ReadWav(TestDaemon.Need("THA4_TEST_SPEECH"), out channels, out rate);
            var events = new List<StreamEvent>();
            using (var stream = new CharacterStream(TestDaemon.Host, TestDaemon.Port, TestDaemon.Character, "solid", 30))
            {
                stream.Start();
                stream.SetExpression("surprised", 0.5);
                WaitForFrame(stream, f => Math.Abs(P(f, "eye_surprised_left") - 0.5) < 1e-6, events);
                StreamEvent expression = events.Find(e => e.Kind == "expression");
                Assert.IsNotNull(expression);
                Assert.AreEqual(0.5, Convert.ToDouble(expression.Data["eye_surprised_left"]), 1e-6);

                Attachment played = stream.PlayTimeline(timeline);
                WaitForFrame(stream, f => Math.Abs(P(f, "head_x") - 0.75) < 1e-6, events);
                Assert.IsNotNull(played.Id);
                stream.Detach(played);
                WaitForFrame(stream, f => P(f, "head_x") == 0.0, events);

                Attachment idle = stream.AttachIdle(7);  // breathing moves from the first moments on
                WaitForFrame(stream, f => P(f, "breathing") > 0.0, events);
                stream.Detach(idle);

                Attachment said = stream.Say(speech, channels, rate);  // through a WAV written by Wav.Write
                WaitForFrame(stream, f => P(f, "mouth_aaa") > 0.3, events);
                Assert.IsTrue(events.Exists(e => e.Kind == "attached" && e.Message == said.Id));
                Assert.IsFalse(events.Exists(e => e.Kind == "error"), string.Join(", ", events.ConvertAll(e => e.ToString()).ToArray()));
            }
            File.Delete(timeline);
        }
    }
}
