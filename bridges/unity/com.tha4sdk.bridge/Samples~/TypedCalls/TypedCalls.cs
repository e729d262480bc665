// Sample: the typed calls of Tha4Character. Attach next to a Tha4Character; assign a timeline file and a
// speech clip (Load Type "Decompress On Load") in the Inspector, then press the keys while playing:
//   1 smile, 2 surprised, 0 neutral (expression presets at a weight)
//   T play the timeline, I toggle idle life (blinking, breathing), S say the clip (lip-sync)
using Tha4Sdk.Bridge;
using UnityEngine;

[RequireComponent(typeof(Tha4Character))]
public class TypedCalls : MonoBehaviour
{
    [Tooltip("A YAML timeline (docs/timeline.md) the daemon can read: an absolute path.")]
    public string timelinePath = "";
    public AudioClip speech;
    public AudioSource speaker;
    [Range(0f, 1f)] public float expressionWeight = 0.8f;

    Tha4Character character;
    Attachment idle;

    void Awake()
    {
        character = GetComponent<Tha4Character>();
        character.OnFrame += (texture, frame) => { if (frame.Seq % 300 == 0) Debug.Log("tha4 frame " + frame.Seq); };
        character.OnJobProgress += job => Debug.Log("tha4 job " + job.Output + ": " + job.State + " " + (job.Fraction * 100).ToString("0") + "%");
    }

    void Update()
    {
        if (Input.GetKeyDown(KeyCode.Alpha1)) character.SetExpression("smile", expressionWeight);
        if (Input.GetKeyDown(KeyCode.Alpha2)) character.SetExpression("surprised", expressionWeight);
        if (Input.GetKeyDown(KeyCode.Alpha0)) character.SetExpression("neutral", 1f);
        if (Input.GetKeyDown(KeyCode.T) && timelinePath != "") character.PlayTimeline(timelinePath);
        if (Input.GetKeyDown(KeyCode.I))
        {
            if (idle == null) idle = character.AttachIdle();
            else
            {
                character.Detach(idle);
                idle = null;
            }
        }
        if (Input.GetKeyDown(KeyCode.S) && speech != null)
        {
            character.Say(speech);
            if (speaker != null) speaker.PlayOneShot(speech);
        }
    }
}
