"""How hard a secret is to guess, by zxcvbn (Dropbox's estimator of an attacker's
guesses): Django's own validators let "aaaaaaaaaaaa" through as a staff password, and
nothing stopped thirty-two identical characters serving as CARD_DATA_KEY.
"""

from django.core.exceptions import ValidationError
from zxcvbn import zxcvbn

# zxcvbn's work grows with the length; past this many characters a secret is judged on
# its beginning, which is plenty to tell a random string from a repeated one.
_LONGEST_MEASURED = 100

# zxcvbn's score 3: "safely unguessable", moderate protection against an offline attack
# on a slow hash (Django's password hashers are slow on purpose).
MIN_PASSWORD_SCORE = 3

# A key is never typed by a person: at least 10^20 guesses (about 66 bits), which every
# generated key passes by far and a word or a repeated character never does.
MIN_KEY_GUESSES_LOG10 = 20


def key_is_guessable(material: str) -> bool:
    """Whether zxcvbn expects fewer than 10^MIN_KEY_GUESSES_LOG10 guesses for the key."""
    return zxcvbn(material[:_LONGEST_MEASURED])["guesses_log10"] < MIN_KEY_GUESSES_LOG10


class GuessabilityValidator:
    """AUTH_PASSWORD_VALIDATORS entry: refuses a password zxcvbn scores below
    MIN_PASSWORD_SCORE, with its advice."""

    def validate(self, password: str, user=None) -> None:
        # What an attacker may know of the person: their names count as guessed words.
        hints = [getattr(user, name, "") or "" for name in ("username", "email", "first_name", "last_name")]
        result = zxcvbn(password[:_LONGEST_MEASURED], user_inputs=[str(hint) for hint in hints if hint])
        if result["score"] < MIN_PASSWORD_SCORE:
            feedback = result["feedback"]
            advice = " ".join(filter(None, [feedback["warning"], *feedback["suggestions"]]))
            raise ValidationError(
                f"This password is too easy to guess. {advice}".strip(), code="password_too_guessable"
            )

    def get_help_text(self) -> str:
        return "Your password must be hard to guess: no repeats, sequences, common words or names."
