"""noticecast's benchmark: synthetic content and a harness that times builds as the work grows."""
