"""Recording: how many answers a case gets, and the loop that asks for more while they disagree."""
