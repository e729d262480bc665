// Compile-time stand-in for the parts of UnityEngine the bridge uses, so `mcs` catches signature errors in
// the Unity-facing scripts without Unity. Signatures follow the Unity 2021.3 scripting API; bodies do
// nothing useful and are never used as Unity (only Tha4Pose, which needs RangeAttribute, runs on it).
using System;

namespace UnityEngine
{
    public class Object
    {
        public string name { get; set; }
        public static void Destroy(Object obj) { throw new NotSupportedException("stub"); }
    }

    public class Component : Object
    {
        public GameObject gameObject { get { throw new NotSupportedException("stub"); } }
        public T GetComponent<T>() { throw new NotSupportedException("stub"); }
    }

    public class Behaviour : Component
    {
        public bool enabled { get; set; }
    }

    public class MonoBehaviour : Behaviour { }

    public sealed class GameObject : Object
    {
        public static GameObject CreatePrimitive(PrimitiveType type) { throw new NotSupportedException("stub"); }
        public T GetComponent<T>() { throw new NotSupportedException("stub"); }
        public T AddComponent<T>() where T : Component { throw new NotSupportedException("stub"); }
    }

    public enum PrimitiveType { Sphere, Capsule, Cylinder, Cube, Plane, Quad }

    public class Texture : Object
    {
        public virtual int width { get { throw new NotSupportedException("stub"); } }
        public virtual int height { get { throw new NotSupportedException("stub"); } }
    }

    public enum TextureFormat { Alpha8 = 1, RGB24 = 3, RGBA32 = 4, ARGB32 = 5, BGRA32 = 14 }

    public sealed class Texture2D : Texture
    {
        public Texture2D(int width, int height, TextureFormat textureFormat, bool mipChain) { }
        public void LoadRawTextureData(byte[] data) { throw new NotSupportedException("stub"); }
        public void Apply(bool updateMipmaps) { throw new NotSupportedException("stub"); }
    }

    public class Shader : Object
    {
        public static Shader Find(string name) { throw new NotSupportedException("stub"); }
    }

    public class Material : Object
    {
        public Material(Shader shader) { }
        public Texture mainTexture { get; set; }
        public void SetTexture(string name, Texture value) { throw new NotSupportedException("stub"); }
    }

    public class Renderer : Component
    {
        public Material material { get; set; }
        public Material sharedMaterial { get; set; }
    }

    public class MeshRenderer : Renderer { }

    public sealed class AudioClip : Object
    {
        public int samples { get { throw new NotSupportedException("stub"); } }
        public int channels { get { throw new NotSupportedException("stub"); } }
        public int frequency { get { throw new NotSupportedException("stub"); } }
        public bool GetData(float[] data, int offsetSamples) { throw new NotSupportedException("stub"); }
    }

    public class AudioSource : Behaviour
    {
        public void PlayOneShot(AudioClip clip) { throw new NotSupportedException("stub"); }
    }

    public enum KeyCode { Alpha0 = 48, Alpha1 = 49, Alpha2 = 50, I = 105, S = 115, T = 116 }

    public static class Input
    {
        public static bool GetKeyDown(KeyCode key) { throw new NotSupportedException("stub"); }
    }

    public static class Debug
    {
        public static void Log(object message) { Console.WriteLine(message); }
        public static void LogWarning(object message) { Console.WriteLine(message); }
    }

    public static class Mathf
    {
        public static float Sin(float f) { return (float)Math.Sin(f); }
        public static float Abs(float f) { return Math.Abs(f); }
        public static float Clamp01(float value) { return Math.Max(0f, Math.Min(1f, value)); }
        public static float PingPong(float t, float length) { throw new NotSupportedException("stub"); }
    }

    public static class Time
    {
        public static float time { get { throw new NotSupportedException("stub"); } }
    }

    public static class Application
    {
        public static bool isPlaying { get { throw new NotSupportedException("stub"); } }
    }

    public static class GUILayout
    {
        public static bool Button(string text, params object[] options) { throw new NotSupportedException("stub"); }
    }

    public abstract class PropertyAttribute : Attribute { }

    [AttributeUsage(AttributeTargets.Field)]
    public sealed class RangeAttribute : PropertyAttribute
    {
        public readonly float min, max;
        public RangeAttribute(float min, float max) { this.min = min; this.max = max; }
    }

    [AttributeUsage(AttributeTargets.Field)]
    public class HeaderAttribute : PropertyAttribute { public HeaderAttribute(string header) { } }

    [AttributeUsage(AttributeTargets.Field)]
    public class TooltipAttribute : PropertyAttribute { public TooltipAttribute(string tooltip) { } }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string menuName) { } }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class DisallowMultipleComponent : Attribute { }

    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
    public sealed class RequireComponent : Attribute { public RequireComponent(Type requiredComponent) { } }
}

namespace UnityEngine.Events
{
    public abstract class UnityEventBase { }

    public delegate void UnityAction<T0>(T0 arg0);

    public class UnityEvent<T0> : UnityEventBase
    {
        public void AddListener(UnityAction<T0> call) { throw new NotSupportedException("stub"); }
        public void Invoke(T0 arg0) { throw new NotSupportedException("stub"); }
    }
}
