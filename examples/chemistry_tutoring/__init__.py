"""Chemistry tutoring: a student agent asks, a professor agent explains."""
