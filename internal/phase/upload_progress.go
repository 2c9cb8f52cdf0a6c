package phase

import "github.com/openimsdk/openim-deploy/internal/ui"

// startUploadProgress puts the release upload on the terminal's status
// line: every byte the hosts needing a new release are sent, across them
// all. It returns nil (a Transfer that does nothing) off a terminal.
func startUploadProgress(r *Run) *ui.Transfer {
	if !r.Out.Live() {
		return nil
	}
	var total int64
	hosts := 0
	for _, h := range r.Usable() {
		if h.Plan != nil && h.Plan.NewRelease {
			total += h.Plan.BytesToSend()
			hosts++
		}
	}
	if hosts == 0 {
		return nil
	}
	return r.Out.Transfer("uploading", total, hosts)
}
