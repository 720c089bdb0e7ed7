"""The shared layer's agencies: who they are, their keys, and how an agency request is let in."""
