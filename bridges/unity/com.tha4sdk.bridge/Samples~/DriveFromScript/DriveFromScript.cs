// Sample: attach next to a Tha4Character. Nods the head, blinks every few seconds and opens the mouth,
// all by writing the pose fields (an Animator can write the same fields instead).
using UnityEngine;
using Tha4Sdk.Bridge;

[RequireComponent(typeof(Tha4Character))]
public class DriveFromScript : MonoBehaviour
{
    public float nodSpeed = 1.5f;
    public float blinkEvery = 3f;

    Tha4Character character;

    void Awake()
    {
        character = GetComponent<Tha4Character>();
        character.StreamEventReceived += e => { if (e.Kind.StartsWith("job.")) Debug.Log("tha4 job: " + e.Kind); };
    }

    void Update()
    {
        float t = Time.time;
        character.pose.head_x = 0.4f * Mathf.Sin(t * nodSpeed);
        character.pose.mouth_aaa = Mathf.Clamp01(Mathf.Sin(t * 6f));
        float blink = Mathf.Clamp01(1f - Mathf.Abs((t % blinkEvery) - 0.1f) * 10f);
        character.SetParameter("eye_wink_left", blink);
        character.SetParameter("eye_wink_right", blink);
    }
}
