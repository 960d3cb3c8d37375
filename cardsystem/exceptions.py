class ConflictError(Exception):
    """A well-formed request that the resource's current state does not allow (HTTP 409)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def message_dict(self) -> dict:
        return {self.field: [self.message]} if self.field else {"detail": self.message}
