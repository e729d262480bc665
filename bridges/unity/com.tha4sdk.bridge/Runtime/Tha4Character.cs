// A character rendered by the tha4 daemon (`tha4 serve`), shown as a Texture2D. Networking runs on a
// background thread (CharacterStream); the texture is written here, on the main thread.
using System;
using System.Collections.Generic;
using UnityEngine;
using UnityEngine.Events;

namespace Tha4Sdk.Bridge
{
    [Serializable]
    public class TextureEvent : UnityEvent<Texture2D> { }

    [Serializable]
    public class MessageEvent : UnityEvent<string> { }

    [AddComponentMenu("tha4/Tha4 Character")]
    [DisallowMultipleComponent]
    public class Tha4Character : MonoBehaviour
    {
        [Header("Daemon (tha4 serve)")]
        public string host = "127.0.0.1";
        public int port = DaemonClient.DefaultPort;

        [Header("Character")]
        [Tooltip("A name in the daemon's character store, or an absolute folder under one of its --allow-root folders.")]
        public string character = "lambda_00";
        [Tooltip("Renderer plugin: student (fast), teacher (official networks), …")]
        public string rendererName = "student";
        [Range(1f, 120f)] public float fps = 30f;
        [Tooltip("Frame size in pixels; 0 keeps the native 512×512.")]
        public int width, height;

        [Header("Pose (animate these with an Animator or set them from scripts)")]
        public Tha4Pose pose;

        [Header("Output")]
        [Tooltip("Optional: its material's texture property is set to the character's texture.")]
        public Renderer targetRenderer;
        public string textureProperty = "_MainTex";
        public TextureEvent onFrame = new TextureEvent();
        public MessageEvent onError = new MessageEvent();

        /// <summary>Every stream event: connected, loaded, disconnected, error, expression, attached, job.*
        /// (main thread).</summary>
        public event Action<StreamEvent> StreamEventReceived;
        /// <summary>A new frame is in <see cref="Texture"/> (main thread, once per shown frame).</summary>
        public event Action<Texture2D, Tha4Frame> OnFrame;
        /// <summary>A distillation job changed (queued, started, progress, finished; main thread).</summary>
        public event Action<Tha4Job> OnJobProgress;

        /// <summary>The newest frame (sRGB, straight alpha); null until the first frame arrives.</summary>
        public Texture2D Texture { get; private set; }
        /// <summary>The newest frame's metadata (seq, pose, daemon time).</summary>
        public Tha4Frame LastFrame { get; private set; }
        public CharacterStream Stream { get; private set; }

        readonly float[] sent = new float[Tha4Pose.Count];
        bool sentAll;
        byte[] bottomUp;

        /// <summary>Set one parameter by its official name (see Tha4Pose.Names).</summary>
        public void SetParameter(string name, float value)
        {
            int index = Tha4Pose.IndexOf(name);
            if (index < 0) throw new ArgumentException("unknown pose parameter '" + name + "'", "name");
            pose[index] = value;
        }

        /// <summary>Set several parameters by name; the others keep their values.</summary>
        public void SetPose(IDictionary<string, float> parameters)
        {
            foreach (KeyValuePair<string, float> p in parameters) SetParameter(p.Key, p.Value);
        }

        // ---- typed calls (sent in order by the stream's worker; see CharacterStream) ----------------------
        /// <summary>Set an expression preset ("smile", "surprised", "blink", "aaa", …) at a weight in [0, 1]: the
        /// parameters it moves change in <see cref="pose"/> once the daemon has applied it.</summary>
        public void SetExpression(string preset, float weight = 1f)
        {
            Live().SetExpression(preset, weight);
        }

        /// <summary>Play a YAML timeline (docs/timeline.md) once; a path the daemon can read.</summary>
        public Attachment PlayTimeline(string path) { return Live().PlayTimeline(path); }

        /// <summary>Idle life: blinking, breathing and a slight head motion, until detached.</summary>
        public Attachment AttachIdle(int seed = 0) { return Live().AttachIdle(seed); }

        /// <summary>Lip-sync the mouth to a WAV or FLAC file.</summary>
        public Attachment Say(string audioFile) { return Live().Say(audioFile); }

        /// <summary>Lip-sync the mouth to an AudioClip (its samples; play the clip yourself at the same time).
        /// The clip must be readable: Load Type "Decompress On Load".</summary>
        public Attachment Say(AudioClip clip)
        {
            var samples = new float[clip.samples * clip.channels];
            if (!clip.GetData(samples, 0)) throw new ArgumentException("cannot read the samples of " + clip.name, "clip");
            return Live().Say(samples, clip.channels, clip.frequency);
        }

        public void Detach(Attachment attachment) { Live().Detach(attachment); }

        CharacterStream Live()
        {
            if (Stream == null) throw new InvalidOperationException("the character is not enabled");
            return Stream;
        }

        void OnEnable()
        {
            Stream = new CharacterStream(host, port, character, rendererName, fps, width, height);
            sentAll = false;
            Stream.Start();
        }

        void OnDisable()
        {
            if (Stream != null) Stream.Dispose();
            Stream = null;
        }

        void OnDestroy()
        {
            if (Texture != null) Destroy(Texture);
        }

        // LateUpdate: after the Animator has written this frame's pose.
        void LateUpdate()
        {
            if (Stream == null) return;
            SendPose();
            ShowNewestFrame();
            StreamEvent e;
            while (Stream.TryTakeEvent(out e))
            {
                if (e.Kind == "error" || e.Kind == "disconnected")
                {
                    Debug.LogWarning("tha4 " + character + ": " + e);
                    onError.Invoke(e.ToString());
                }
                if (e.Kind == "expression") ShowExpression(e.Data);
                if (e.Kind.StartsWith("job.") && OnJobProgress != null && e.Data != null && e.Data.ContainsKey("job"))
                    OnJobProgress(Tha4Job.FromInfo((Dictionary<string, object>)e.Data["job"]));
                if (StreamEventReceived != null) StreamEventReceived(e);
            }
        }

        void ShowExpression(Dictionary<string, object> parameters)
        {
            foreach (KeyValuePair<string, object> p in parameters)
            {
                int index = Tha4Pose.IndexOf(p.Key);
                if (index < 0) continue;
                pose[index] = Convert.ToSingle(p.Value);
                sent[index] = pose[index];  // the daemon has it already
            }
        }

        void SendPose()
        {
            Dictionary<string, double> changed = null;  // allocated only on a change
            for (int i = 0; i < Tha4Pose.Count; i++)
            {
                float v = pose[i];
                if (sentAll && v == sent[i]) continue;
                sent[i] = v;
                if (changed == null) changed = new Dictionary<string, double>();
                changed[Tha4Pose.Names[i]] = v;
            }
            sentAll = true;
            if (changed != null) Stream.SetPose(changed);
        }

        void ShowNewestFrame()
        {
            Tha4Frame frame = Stream.TakeLatestFrame();
            if (frame == null) return;
            if (Texture == null || Texture.width != frame.Width || Texture.height != frame.Height)
            {
                if (Texture != null) Destroy(Texture);
                Texture = new Texture2D(frame.Width, frame.Height, TextureFormat.RGBA32, false);
                Texture.name = "tha4 " + character;
                bottomUp = new byte[frame.Pixels.Length];
                if (targetRenderer != null) targetRenderer.material.SetTexture(textureProperty, Texture);
            }
            frame.CopyBottomUp(bottomUp);  // Unity textures start at the bottom row
            Texture.LoadRawTextureData(bottomUp);
            Texture.Apply(false);
            LastFrame = frame;
            onFrame.Invoke(Texture);
            if (OnFrame != null) OnFrame(Texture, frame);
        }
    }
}
