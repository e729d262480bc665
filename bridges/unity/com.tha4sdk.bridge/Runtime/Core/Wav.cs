// Audio samples → a 16-bit PCM WAV file, for lip-sync from sound the daemon did not load itself.
using System;
using System.IO;

namespace Tha4Sdk.Bridge
{
    public static class Wav
    {
        /// <summary>Write interleaved float samples in [-1, 1] (clamped) as 16-bit PCM WAV.</summary>
        public static void Write(string path, float[] samples, int channels, int sampleRate)
        {
            if (channels < 1 || sampleRate < 1) throw new ArgumentException("channels and sampleRate must be positive");
            using (var writer = new BinaryWriter(File.Create(path)))
            {
                int dataBytes = samples.Length * 2;
                writer.Write(new[] { (byte)'R', (byte)'I', (byte)'F', (byte)'F' });
                writer.Write(36 + dataBytes);
                writer.Write(new[] { (byte)'W', (byte)'A', (byte)'V', (byte)'E', (byte)'f', (byte)'m', (byte)'t', (byte)' ' });
                writer.Write(16);
                writer.Write((short)1);  // PCM
                writer.Write((short)channels);
                writer.Write(sampleRate);
                writer.Write(sampleRate * channels * 2);
                writer.Write((short)(channels * 2));
                writer.Write((short)16);
                writer.Write(new[] { (byte)'d', (byte)'a', (byte)'t', (byte)'a' });
                writer.Write(dataBytes);
                foreach (float sample in samples)
                    writer.Write((short)Math.Round(Math.Max(-1f, Math.Min(1f, sample)) * 32767f));
            }
        }
    }
}
