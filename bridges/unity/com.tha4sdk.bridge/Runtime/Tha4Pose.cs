// The 45 THA4 pose parameters as serialized fields, in official order (docs/protocol.md hello.parameters),
// so the Inspector, scripts and Animator curves ("pose.head_x") can drive them.
using System;
using UnityEngine;

namespace Tha4Sdk.Bridge
{
    [Serializable]
    public struct Tha4Pose
    {
        [Range(0f, 1f)] public float eyebrow_troubled_left;
        [Range(0f, 1f)] public float eyebrow_troubled_right;
        [Range(0f, 1f)] public float eyebrow_angry_left;
        [Range(0f, 1f)] public float eyebrow_angry_right;
        [Range(0f, 1f)] public float eyebrow_lowered_left;
        [Range(0f, 1f)] public float eyebrow_lowered_right;
        [Range(0f, 1f)] public float eyebrow_raised_left;
        [Range(0f, 1f)] public float eyebrow_raised_right;
        [Range(0f, 1f)] public float eyebrow_happy_left;
        [Range(0f, 1f)] public float eyebrow_happy_right;
        [Range(0f, 1f)] public float eyebrow_serious_left;
        [Range(0f, 1f)] public float eyebrow_serious_right;
        [Range(0f, 1f)] public float eye_wink_left;
        [Range(0f, 1f)] public float eye_wink_right;
        [Range(0f, 1f)] public float eye_happy_wink_left;
        [Range(0f, 1f)] public float eye_happy_wink_right;
        [Range(0f, 1f)] public float eye_surprised_left;
        [Range(0f, 1f)] public float eye_surprised_right;
        [Range(0f, 1f)] public float eye_relaxed_left;
        [Range(0f, 1f)] public float eye_relaxed_right;
        [Range(0f, 1f)] public float eye_unimpressed_left;
        [Range(0f, 1f)] public float eye_unimpressed_right;
        [Range(0f, 1f)] public float eye_raised_lower_eyelid_left;
        [Range(0f, 1f)] public float eye_raised_lower_eyelid_right;
        [Range(0f, 1f)] public float iris_small_left;
        [Range(0f, 1f)] public float iris_small_right;
        [Range(0f, 1f)] public float mouth_aaa;
        [Range(0f, 1f)] public float mouth_iii;
        [Range(0f, 1f)] public float mouth_uuu;
        [Range(0f, 1f)] public float mouth_eee;
        [Range(0f, 1f)] public float mouth_ooo;
        [Range(0f, 1f)] public float mouth_delta;
        [Range(0f, 1f)] public float mouth_lowered_corner_left;
        [Range(0f, 1f)] public float mouth_lowered_corner_right;
        [Range(0f, 1f)] public float mouth_raised_corner_left;
        [Range(0f, 1f)] public float mouth_raised_corner_right;
        [Range(0f, 1f)] public float mouth_smirk;
        [Range(-1f, 1f)] public float iris_rotation_x;
        [Range(-1f, 1f)] public float iris_rotation_y;
        [Range(-1f, 1f)] public float head_x;
        [Range(-1f, 1f)] public float head_y;
        [Range(-1f, 1f)] public float neck_z;
        [Range(-1f, 1f)] public float body_y;
        [Range(-1f, 1f)] public float body_z;
        [Range(0f, 1f)] public float breathing;

        public const int Count = 45;

        /// <summary>Parameter names in official order; Names[i] is the field this[i] reads and writes.</summary>
        public static readonly string[] Names = {
            "eyebrow_troubled_left",
            "eyebrow_troubled_right",
            "eyebrow_angry_left",
            "eyebrow_angry_right",
            "eyebrow_lowered_left",
            "eyebrow_lowered_right",
            "eyebrow_raised_left",
            "eyebrow_raised_right",
            "eyebrow_happy_left",
            "eyebrow_happy_right",
            "eyebrow_serious_left",
            "eyebrow_serious_right",
            "eye_wink_left",
            "eye_wink_right",
            "eye_happy_wink_left",
            "eye_happy_wink_right",
            "eye_surprised_left",
            "eye_surprised_right",
            "eye_relaxed_left",
            "eye_relaxed_right",
            "eye_unimpressed_left",
            "eye_unimpressed_right",
            "eye_raised_lower_eyelid_left",
            "eye_raised_lower_eyelid_right",
            "iris_small_left",
            "iris_small_right",
            "mouth_aaa",
            "mouth_iii",
            "mouth_uuu",
            "mouth_eee",
            "mouth_ooo",
            "mouth_delta",
            "mouth_lowered_corner_left",
            "mouth_lowered_corner_right",
            "mouth_raised_corner_left",
            "mouth_raised_corner_right",
            "mouth_smirk",
            "iris_rotation_x",
            "iris_rotation_y",
            "head_x",
            "head_y",
            "neck_z",
            "body_y",
            "body_z",
            "breathing",
        };

        /// <summary>Index of a parameter name, or -1.</summary>
        public static int IndexOf(string name) { return Array.IndexOf(Names, name); }

        public float this[int index]
        {
            get
            {
                switch (index)
                {
                    case 0: return eyebrow_troubled_left;
                    case 1: return eyebrow_troubled_right;
                    case 2: return eyebrow_angry_left;
                    case 3: return eyebrow_angry_right;
                    case 4: return eyebrow_lowered_left;
                    case 5: return eyebrow_lowered_right;
                    case 6: return eyebrow_raised_left;
                    case 7: return eyebrow_raised_right;
                    case 8: return eyebrow_happy_left;
                    case 9: return eyebrow_happy_right;
                    case 10: return eyebrow_serious_left;
                    case 11: return eyebrow_serious_right;
                    case 12: return eye_wink_left;
                    case 13: return eye_wink_right;
                    case 14: return eye_happy_wink_left;
                    case 15: return eye_happy_wink_right;
                    case 16: return eye_surprised_left;
                    case 17: return eye_surprised_right;
                    case 18: return eye_relaxed_left;
                    case 19: return eye_relaxed_right;
                    case 20: return eye_unimpressed_left;
                    case 21: return eye_unimpressed_right;
                    case 22: return eye_raised_lower_eyelid_left;
                    case 23: return eye_raised_lower_eyelid_right;
                    case 24: return iris_small_left;
                    case 25: return iris_small_right;
                    case 26: return mouth_aaa;
                    case 27: return mouth_iii;
                    case 28: return mouth_uuu;
                    case 29: return mouth_eee;
                    case 30: return mouth_ooo;
                    case 31: return mouth_delta;
                    case 32: return mouth_lowered_corner_left;
                    case 33: return mouth_lowered_corner_right;
                    case 34: return mouth_raised_corner_left;
                    case 35: return mouth_raised_corner_right;
                    case 36: return mouth_smirk;
                    case 37: return iris_rotation_x;
                    case 38: return iris_rotation_y;
                    case 39: return head_x;
                    case 40: return head_y;
                    case 41: return neck_z;
                    case 42: return body_y;
                    case 43: return body_z;
                    case 44: return breathing;
                    default: throw new ArgumentOutOfRangeException("index", index, "a pose has " + Count + " parameters");
                }
            }
            set
            {
                switch (index)
                {
                    case 0: eyebrow_troubled_left = value; break;
                    case 1: eyebrow_troubled_right = value; break;
                    case 2: eyebrow_angry_left = value; break;
                    case 3: eyebrow_angry_right = value; break;
                    case 4: eyebrow_lowered_left = value; break;
                    case 5: eyebrow_lowered_right = value; break;
                    case 6: eyebrow_raised_left = value; break;
                    case 7: eyebrow_raised_right = value; break;
                    case 8: eyebrow_happy_left = value; break;
                    case 9: eyebrow_happy_right = value; break;
                    case 10: eyebrow_serious_left = value; break;
                    case 11: eyebrow_serious_right = value; break;
                    case 12: eye_wink_left = value; break;
                    case 13: eye_wink_right = value; break;
                    case 14: eye_happy_wink_left = value; break;
                    case 15: eye_happy_wink_right = value; break;
                    case 16: eye_surprised_left = value; break;
                    case 17: eye_surprised_right = value; break;
                    case 18: eye_relaxed_left = value; break;
                    case 19: eye_relaxed_right = value; break;
                    case 20: eye_unimpressed_left = value; break;
                    case 21: eye_unimpressed_right = value; break;
                    case 22: eye_raised_lower_eyelid_left = value; break;
                    case 23: eye_raised_lower_eyelid_right = value; break;
                    case 24: iris_small_left = value; break;
                    case 25: iris_small_right = value; break;
                    case 26: mouth_aaa = value; break;
                    case 27: mouth_iii = value; break;
                    case 28: mouth_uuu = value; break;
                    case 29: mouth_eee = value; break;
                    case 30: mouth_ooo = value; break;
                    case 31: mouth_delta = value; break;
                    case 32: mouth_lowered_corner_left = value; break;
                    case 33: mouth_lowered_corner_right = value; break;
                    case 34: mouth_raised_corner_left = value; break;
                    case 35: mouth_raised_corner_right = value; break;
                    case 36: mouth_smirk = value; break;
                    case 37: iris_rotation_x = value; break;
                    case 38: iris_rotation_y = value; break;
                    case 39: head_x = value; break;
                    case 40: head_y = value; break;
                    case 41: neck_z = value; break;
                    case 42: body_y = value; break;
                    case 43: body_z = value; break;
                    case 44: breathing = value; break;
                    default: throw new ArgumentOutOfRangeException("index", index, "a pose has " + Count + " parameters");
                }
            }
        }
    }
}
