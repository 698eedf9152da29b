package ipvssync

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The byte layouts below are written out from ip_vs.h and netlink(7), not
// produced by the code under test: nlmsghdr (len, type = family id, flags,
// seq, pid), genlmsghdr (cmd, version, reserved), then one nested
// IPVS_CMD_ATTR_DAEMON whose children are 4-byte aligned.

func le16(v uint16) []byte { return binary.NativeEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// attr is one netlink attribute: length (header + payload, unpadded),
// type, payload, padding to 4 bytes.
func attr(typ uint16, payload []byte) []byte {
	b := cat(le16(uint16(4+len(payload))), le16(typ), payload)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nlmsg(typ, flags uint16, seq uint32, body []byte) []byte {
	return cat(le32(uint32(16+len(body))), le16(typ), le16(flags), le32(seq), le32(0), body)
}

func TestDaemonRequestBytes(t *testing.T) {
	const fam, seq = 0x1d, 42
	nested := uint16(cmdAttrDaemon | unix.NLA_F_NESTED)
	// request is the acked request cmd with the daemon nest holding attrs.
	request := func(cmd byte, attrs ...[]byte) []byte {
		return nlmsg(fam, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq, cat([]byte{cmd, 1, 0, 0}, attr(nested, cat(attrs...))))
	}
	tests := []struct {
		desc string
		cmd  uint8
		d    Daemon
		want []byte
	}{
		{"start master", cmdNewDaemon, Daemon{State: StateMaster, Interface: "eth0", SyncID: 1},
			request(9, attr(1, le32(1)), attr(2, []byte("eth0\x00")), attr(3, le32(1)))},
		{"start backup, long name, syncid 255", cmdNewDaemon, Daemon{State: StateBackup, Interface: "bond0.1234", SyncID: 255},
			request(9, attr(1, le32(2)), attr(2, []byte("bond0.1234\x00")), attr(3, le32(255)))},
		{"stop backup sends only the state", cmdDelDaemon, Daemon{State: StateBackup, Interface: "eth0", SyncID: 1},
			request(10, attr(1, le32(2)))},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			req := daemonRequest(fam, tt.cmd, tt.d)
			req.Seq = seq
			if got := req.Serialize(); !bytes.Equal(got, tt.want) {
				t.Errorf("daemonRequest(%d, %v) =\n% x\nwant\n% x", tt.cmd, tt.d, got, tt.want)
			}
		})
	}
}

func TestListRequestBytes(t *testing.T) {
	req := listRequest(0x1d)
	req.Seq = 7
	want := nlmsg(0x1d, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 7, []byte{11, 1, 0, 0})
	if got := req.Serialize(); !bytes.Equal(got, want) {
		t.Errorf("listRequest() =\n% x\nwant\n% x", got, want)
	}
}

func TestParseDaemon(t *testing.T) {
	// What the kernel's ip_vs_genl_fill_daemon sends: the nest without
	// NLA_F_NESTED, plus attributes this package does not read.
	full := cat([]byte{9, 1, 0, 0}, attr(cmdAttrDaemon, cat(
		attr(1, le32(2)),
		attr(2, []byte("eth0\x00")),
		attr(3, le32(9)),
		attr(4, le16(1472)), // SYNC_MAXLEN
		attr(7, le16(8848)), // MCAST_PORT
		attr(8, []byte{1}),  // MCAST_TTL
		attr(5, []byte{224, 0, 0, 81}),
	)))
	tests := []struct {
		desc    string
		msg     []byte
		want    Daemon
		wantOK  bool
		wantErr string
	}{
		{desc: "kernel reply", msg: full, want: Daemon{State: StateBackup, Interface: "eth0", SyncID: 9}, wantOK: true},
		{desc: "nest with NLA_F_NESTED", msg: cat([]byte{9, 1, 0, 0}, attr(cmdAttrDaemon|unix.NLA_F_NESTED, cat(
			attr(1, le32(1)), attr(2, []byte("lo\x00")), attr(3, le32(0))))),
			want: Daemon{State: StateMaster, Interface: "lo"}, wantOK: true},
		{desc: "no daemon attribute", msg: cat([]byte{9, 1, 0, 0}, attr(4, le32(1)))},
		{desc: "empty", msg: nil, wantErr: "ipvs-sync: daemon reply of 0 bytes is shorter than its header"},
		{desc: "short state", msg: cat([]byte{9, 1, 0, 0}, attr(cmdAttrDaemon, attr(1, []byte{1, 0}))),
			wantErr: "ipvs-sync: daemon state attribute of 2 bytes, want 4"},
		{desc: "short sync id", msg: cat([]byte{9, 1, 0, 0}, attr(cmdAttrDaemon, cat(attr(1, le32(1)), attr(3, nil)))),
			wantErr: "ipvs-sync: daemon sync id attribute of 0 bytes, want 4"},
		{desc: "no state", msg: cat([]byte{9, 1, 0, 0}, attr(cmdAttrDaemon, attr(2, []byte("eth0\x00")))),
			wantErr: "ipvs-sync: daemon reply without a state"},
		{desc: "attribute longer than the message", msg: cat([]byte{9, 1, 0, 0}, le16(200), le16(3), le32(0)),
			wantErr: "ipvs-sync: parsing daemon reply"},
		{desc: "nested attribute longer than the nest", msg: cat([]byte{9, 1, 0, 0}, attr(cmdAttrDaemon, cat(le16(64), le16(1), le32(1)))),
			wantErr: "ipvs-sync: parsing daemon attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, ok, err := parseDaemon(tt.msg)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("parseDaemon(% x) error = %v, want %q", tt.msg, err, tt.wantErr)
				}
				return
			}
			if err != nil || ok != tt.wantOK || got != tt.want {
				t.Errorf("parseDaemon(% x) = %v, %v, %v, want %v, %v, nil", tt.msg, got, ok, err, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzParseDaemon: any reply is decoded or refused, never a panic.
func FuzzParseDaemon(f *testing.F) {
	f.Add(cat([]byte{9, 1, 0, 0}, attr(cmdAttrDaemon, cat(attr(1, le32(2)), attr(2, []byte("eth0\x00")), attr(3, le32(9))))))
	f.Add([]byte{9, 1, 0, 0, 0xff, 0xff, 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, ok, err := parseDaemon(b)
		if err != nil && (ok || d != (Daemon{})) {
			t.Errorf("parseDaemon(% x) = %v, %v, %v: a daemon with an error", b, d, ok, err)
		}
		_ = fmt.Sprint(d)
	})
}
