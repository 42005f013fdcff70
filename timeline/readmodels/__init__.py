"""The read side: every state item kept as bitemporal versions, and the queries over them."""
