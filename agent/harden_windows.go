package agent

// Harden does nothing yet on Windows: the agent runs as the user, whose
// processes Windows already shields from other users.
func Harden() error { return nil }
