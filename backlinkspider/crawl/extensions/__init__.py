"""Extensions: the progress line."""
