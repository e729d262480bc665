"""A character folder from any picture: cut out, head found, fitted to THA's template, masked, previewed.

`create_character` is the whole job (`tha4 characters new`); `prepare` alone is the fast part (decode, cut out,
find the head with THA3's face morpher, fit) that an interactive page can run on every change of the head box
(given a box, it runs no network).
"""

from tha4_sdk.new_character.create import NewCharacter, NewCharacterOptions, Prepared, create_character, prepare
from tha4_sdk.new_character.head import HeadBox

__all__ = ["HeadBox", "NewCharacter", "NewCharacterOptions", "Prepared", "create_character", "prepare"]
