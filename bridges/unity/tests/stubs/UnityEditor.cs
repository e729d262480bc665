// Compile-time stand-in for the parts of UnityEditor the bridge's editor script uses (see UnityEngine.cs).
using System;
using UnityEngine;

namespace UnityEditor
{
    public class Editor : UnityEngine.Object
    {
        public UnityEngine.Object target { get { throw new NotSupportedException("stub"); } }
        public virtual void OnInspectorGUI() { }
        public bool DrawDefaultInspector() { throw new NotSupportedException("stub"); }
        public virtual bool RequiresConstantRepaint() { return false; }
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class CustomEditor : Attribute { public CustomEditor(Type inspectedType) { } }

    [AttributeUsage(AttributeTargets.Method)]
    public sealed class MenuItem : Attribute
    {
        public MenuItem(string itemName, bool isValidateFunction, int priority) { }
    }

    public sealed class MenuCommand
    {
        public UnityEngine.Object context;
    }

    public static class EditorGUILayout
    {
        public static void LabelField(string label, string label2, params object[] options) { throw new NotSupportedException("stub"); }
    }

    public static class Undo
    {
        public static void RecordObject(UnityEngine.Object objectToUndo, string name) { throw new NotSupportedException("stub"); }
        public static void RegisterCreatedObjectUndo(UnityEngine.Object objectToUndo, string name) { throw new NotSupportedException("stub"); }
    }

    public static class GameObjectUtility
    {
        public static void SetParentAndAlign(GameObject child, GameObject parent) { throw new NotSupportedException("stub"); }
    }

    public static class Selection
    {
        public static UnityEngine.Object activeObject { get; set; }
    }
}
