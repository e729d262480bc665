"""Make docs/images/readme_strip.png: lambda_00 in four poses, rendered by the student renderer.

    tha4 characters fetch lambda_00 && python docs/make_readme_image.py
"""

from pathlib import Path

from PIL import Image

from tha4_sdk.hub import resolve_character
from tha4_sdk.pose import Pose
from tha4_sdk.render import open_renderer

POSES = [
    {},
    {"eye_happy_wink_left": 1, "eye_happy_wink_right": 1, "mouth_raised_corner_left": 0.8,
     "mouth_raised_corner_right": 0.8, "head_y": 0.3},
    {"mouth_aaa": 1, "eye_surprised_left": 0.8, "eye_surprised_right": 0.8, "eyebrow_raised_left": 1,
     "eyebrow_raised_right": 1, "head_x": -0.3},
    {"eye_wink_right": 1, "mouth_iii": 0.8, "neck_z": 0.4, "head_y": -0.4, "body_y": -0.3},
]


def main() -> None:
    session = open_renderer("student", resolve_character("lambda_00"), device="cpu")
    frames = session.render([Pose.from_dict(p) for p in POSES])
    tile = 256
    strip = Image.new("RGBA", (tile * len(frames), tile), (255, 255, 255, 255))
    for i, frame in enumerate(frames):
        face = frame.to_pil().crop((128, 16, 384, 272))  # head and shoulders
        strip.alpha_composite(face, (i * tile, 0))
    out = Path(__file__).parent / "images" / "readme_strip.png"
    strip.convert("RGB").save(out, optimize=True)
    print(out)


if __name__ == "__main__":
    main()
