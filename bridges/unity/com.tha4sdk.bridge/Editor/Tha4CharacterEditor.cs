// Inspector for Tha4Character: connection state while playing, a pose reset button, and a menu item that
// creates a quad showing a character.
using UnityEditor;
using UnityEngine;

namespace Tha4Sdk.Bridge.Editor
{
    [CustomEditor(typeof(Tha4Character))]
    public class Tha4CharacterEditor : UnityEditor.Editor
    {
        public override void OnInspectorGUI()
        {
            var character = (Tha4Character)target;
            CharacterStream stream = character.Stream;
            if (Application.isPlaying && stream != null)
            {
                EditorGUILayout.LabelField("State", stream.State.ToString());
                EditorGUILayout.LabelField("Session", stream.Session ?? "—");
                EditorGUILayout.LabelField("Frames received", stream.FramesReceived.ToString());
                EditorGUILayout.LabelField("Connections", stream.Connections.ToString());
            }
            if (GUILayout.Button("Reset pose"))
            {
                Undo.RecordObject(character, "Reset tha4 pose");
                character.pose = new Tha4Pose();
            }
            DrawDefaultInspector();
        }

        public override bool RequiresConstantRepaint()
        {
            return Application.isPlaying;  // the counters above change every frame
        }

        [MenuItem("GameObject/tha4/Character Quad", false, 10)]
        static void CreateQuad(MenuCommand command)
        {
            GameObject quad = GameObject.CreatePrimitive(PrimitiveType.Quad);
            quad.name = "tha4 Character";
            var renderer = quad.GetComponent<MeshRenderer>();
            renderer.sharedMaterial = new Material(Shader.Find("Unlit/Transparent"));
            var character = quad.AddComponent<Tha4Character>();
            character.targetRenderer = renderer;
            GameObjectUtility.SetParentAndAlign(quad, command.context as GameObject);
            Undo.RegisterCreatedObjectUndo(quad, "Create tha4 Character");
            Selection.activeObject = quad;
        }
    }
}
