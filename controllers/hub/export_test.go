package hub

// InFlight returns how many webhook bodies are being read and the bytes they reserved, so
// that a test holding a request open knows it was admitted before it probes the limits.
func (h *WebhookReceiver) InFlight() (slots int, bytes int64) {
	h.setup()
	h.gate.bytes.mu.Lock()
	defer h.gate.bytes.mu.Unlock()
	return len(h.gate.slots), h.Limits.withDefaults().MaxInFlightBytes - h.gate.bytes.free
}
