// Editor tests: the inspector's pose table (Tha4Pose) is the daemon's, and the inspector type compiles in.
using System.Collections.Generic;
using NUnit.Framework;
using Tha4Sdk.Bridge.Tests;

namespace Tha4Sdk.Bridge.Editor.Tests
{
    [TestFixture]
    public class PoseTableTests
    {
        [Test]
        public void TheInspectorsParametersAreTheDaemons()
        {
            string s;
            using (DaemonClient client = TestDaemon.Connect(out s))
            {
                var names = (List<object>)client.Hello["parameters"];
                Assert.AreEqual(Tha4Pose.Count, names.Count);
                for (int i = 0; i < names.Count; i++) Assert.AreEqual((string)names[i], Tha4Pose.Names[i]);
                client.Unload(s);
            }
        }

        [Test]
        public void TheInspectorIsForTha4Character()
        {
            Assert.IsTrue(typeof(UnityEditor.Editor).IsAssignableFrom(typeof(Tha4CharacterEditor)));
        }
    }
}
