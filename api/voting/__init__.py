"""HTTP resources of voting, and the ballot's fast path beside Flask (``fast_cast``)."""
