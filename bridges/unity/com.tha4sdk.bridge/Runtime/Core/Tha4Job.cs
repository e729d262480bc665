// A distillation job as the daemon reports it (JOB-INFO, docs/protocol.md §6 distill.start).
using System;
using System.Collections.Generic;
using System.Globalization;

namespace Tha4Sdk.Bridge
{
    /// <summary>One distillation job: its state and the latest progress the distiller reported.</summary>
    public sealed class Tha4Job
    {
        public string Id;
        /// <summary>queued, running, cancelling, done, failed or cancelled.</summary>
        public string State;
        public string Character, Output, Error, Phase;
        /// <summary>Training examples seen so far and in all (0 until the first progress record).</summary>
        public long Examples, Total;
        /// <summary>The latest training loss, NaN until reported.</summary>
        public double Loss = double.NaN;
        /// <summary>Seconds until the job is over (with a time budget; without one, until the network now training
        /// is), NaN while not running or not yet known (JOB-INFO eta_s, protocol 1.3).</summary>
        public double EtaSeconds = double.NaN;
        /// <summary>The latest evaluation's PSNR against the teacher in dB, NaN before the first (JOB-INFO psnr);
        /// <see cref="PsnrPhase"/> says of what: face, body or full.</summary>
        public double Psnr = double.NaN;
        public string PsnrPhase;
        /// <summary>The whole JOB-INFO map, for fields not named here.</summary>
        public Dictionary<string, object> Info;

        /// <summary>Examples / Total in [0, 1] (0 before the first progress record).</summary>
        public double Fraction { get { return Total > 0 ? Math.Min(1.0, (double)Examples / Total) : 0.0; } }

        public bool Finished { get { return State == "done" || State == "failed" || State == "cancelled"; } }

        public static Tha4Job FromInfo(Dictionary<string, object> info)
        {
            var job = new Tha4Job {
                Id = Text(info, "job"), State = Text(info, "state"), Character = Text(info, "character"),
                Output = Text(info, "output"), Error = Text(info, "error"), Info = info,
            };
            object value;
            job.EtaSeconds = Number(info, "eta_s");
            var psnr = info.TryGetValue("psnr", out value) ? value as Dictionary<string, object> : null;
            if (psnr != null)
            {
                job.Psnr = Number(psnr, "psnr_db");
                job.PsnrPhase = Text(psnr, "phase");
            }
            var progress = info.TryGetValue("progress", out value) ? value as Dictionary<string, object> : null;
            if (progress != null)
            {
                job.Phase = Text(progress, "phase");
                if (progress.TryGetValue("examples", out value) && value is long) job.Examples = (long)value;
                if (progress.TryGetValue("total", out value) && value is long) job.Total = (long)value;
                job.Loss = Number(progress, "loss");
            }
            return job;
        }

        static double Number(Dictionary<string, object> map, string key)
        {
            object v;
            return map.TryGetValue(key, out v) && (v is double || v is long) ? Convert.ToDouble(v) : double.NaN;
        }

        static string Text(Dictionary<string, object> map, string key)
        {
            object v;
            return map.TryGetValue(key, out v) ? v as string : null;
        }

        public override string ToString()
        {
            return Output + ": " + State + (Total > 0 ? " " + Examples + "/" + Total : "")
                + (double.IsNaN(EtaSeconds) ? "" : ", " + Math.Round(EtaSeconds) + " s left")
                + (double.IsNaN(Psnr) ? "" : ", PSNR " + Psnr.ToString("0.0", CultureInfo.InvariantCulture)
                   + " dB (" + PsnrPhase + ")")
                + (Error != null ? " (" + Error + ")" : "");
        }
    }
}
