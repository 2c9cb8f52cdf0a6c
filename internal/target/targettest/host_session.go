package targettest

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// session serves one "session" channel: exec through the interpreter, or
// the sftp subsystem. A "signal" request, or the client closing the channel,
// cancels the running command's context.
func (h *Host) session(nc net.Conn, nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var work sync.WaitGroup
	defer work.Wait()
	started := false
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if started || ssh.Unmarshal(req.Payload, &p) != nil {
				_ = req.Reply(false, nil)
				continue
			}
			started = true
			_ = req.Reply(true, nil)
			work.Add(1)
			go func() { defer work.Done(); h.exec(ctx, ch, p.Command) }()
		case "subsystem":
			var p struct{ Name string }
			if started || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
				_ = req.Reply(false, nil)
				continue
			}
			started = true
			_ = req.Reply(true, nil)
			work.Add(1)
			go func() { defer work.Done(); h.serveSFTP(nc, ch) }()
		case "signal":
			cancel()
			if req.WantReply {
				_ = req.Reply(true, nil)
			}
		case "env":
			_ = req.Reply(true, nil) // accepted and ignored, like sshd without AcceptEnv
		default:
			_ = req.Reply(false, nil)
		}
	}
	cancel() // the client closed the channel, or the connection died
}

func (h *Host) exec(ctx context.Context, ch ssh.Channel, line string) {
	defer ch.Close()
	h.mu.Lock()
	h.commands = append(h.commands, line)
	drop := h.dropSess
	h.mu.Unlock()

	var code int
	args, err := SplitWords(line)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "sh: %v\n", err)
		code = 2
	} else {
		code = h.interp(ctx, args, ch, ch, ch.Stderr())
	}
	switch {
	case drop:
		// End the session without an exit status.
	case ctx.Err() != nil:
		_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{Signal: "KILL"}))
	default:
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
	}
}

func (h *Host) serveSFTP(nc net.Conn, ch ssh.Channel) {
	defer ch.Close()
	fs := &rootFS{root: h.Root, host: h, conn: nc}
	srv := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: fs, FilePut: fs, FileCmd: fs, FileList: fs})
	_ = srv.Serve()
	_ = srv.Close()
}

// directTCPIP forwards a channel to a port on loopback, as sshd does for
// "ssh -W" and ProxyJump. Only loopback destinations are allowed, which keeps
// tests hermetic.
func (h *Host) directTCPIP(nch ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	ip := net.ParseIP(p.Host)
	if p.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		_ = nch.Reject(ssh.Prohibited, "targettest: only loopback destinations")
		return
	}
	c, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	defer c.Close()
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(ch, c); _ = ch.CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, ch); _ = c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	// One direction ended: tear down both, or the other copy could wait
	// forever on a peer that is itself waiting for us.
	c.Close()
	ch.Close()
	<-done
}
