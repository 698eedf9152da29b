package config

// The raw structs mirror the file one to one. Leaves are plain TOML types
// (strings for durations and addresses) so the decode never stops on a bad
// value; convert.go turns them into Config. Whether a key was written at all
// is asked of the index, not of zero values.

type rawFile struct {
	Cluster rawCluster   `toml:"cluster"`
	GARP    rawGARP      `toml:"garp"`
	Link    []rawLink    `toml:"link"`
	Ping    []rawPing    `toml:"ping"`
	Track   []rawTrack   `toml:"track"`
	Group   []rawGroup   `toml:"group"`
	Service []RawService `toml:"service"`
	Admin   rawAdmin     `toml:"admin"`
	BGP     rawBGP       `toml:"bgp"`
}

type rawBGP struct {
	ASN       int64             `toml:"asn"`
	Nodes     map[string]string `toml:"nodes"`
	Neighbors []rawNeighbor     `toml:"neighbors"`
	HoldTime  string            `toml:"hold_time"`
	BFD       bool              `toml:"bfd"`
}

type rawNeighbor struct {
	Address string `toml:"address"`
	ASN     int64  `toml:"asn"`
}

type rawAdmin struct {
	Listen      string `toml:"listen"`
	AllowRemote bool   `toml:"allow_remote"`
}

type rawCluster struct {
	Name         string   `toml:"name"`
	ID           int64    `toml:"id"`
	Nodes        []string `toml:"nodes"`
	Authkeys     string   `toml:"authkeys"`
	Keepalive    string   `toml:"keepalive"`
	Warntime     string   `toml:"warntime"`
	Deadtime     string   `toml:"deadtime"`
	Initdead     string   `toml:"initdead"`
	AutoFailback bool     `toml:"auto_failback"`
	FailbackHold string   `toml:"failback_hold"`
	StateDir     string   `toml:"state_dir"`
	Socket       string   `toml:"socket"`
	Notify       string   `toml:"notify"`
	Port         int64    `toml:"port"`
	Realtime     bool     `toml:"realtime"`
}

type rawGARP struct {
	Count       int64  `toml:"count"`
	Interval    string `toml:"interval"`
	SecondBurst string `toml:"second_burst"`
	Refresh     string `toml:"refresh"`
	Form        string `toml:"form"`
}

type rawLink struct {
	Name      string            `toml:"name"`
	Kind      string            `toml:"kind"`
	Interface string            `toml:"interface"`
	Group     string            `toml:"group"`
	Port      int64             `toml:"port"`
	Peers     map[string]string `toml:"peers"`
}

type rawPing struct {
	Address  string `toml:"address"`
	Interval string `toml:"interval"`
	Timeout  string `toml:"timeout"`
	Weight   int64  `toml:"weight"`
}

type rawTrack struct {
	Name     string   `toml:"name"`
	Script   string   `toml:"script"`
	Args     []string `toml:"args"`
	Interval string   `toml:"interval"`
	Timeout  string   `toml:"timeout"`
	Weight   int64    `toml:"weight"`
}

type rawGroup struct {
	Name         string           `toml:"name"`
	Preferred    any              `toml:"preferred"` // a node name or an ordered list of them
	Priorities   map[string]int64 `toml:"priorities"`
	AutoFailback bool             `toml:"auto_failback"`
	// FailbackMinHealthy: see Group.FailbackMinHealthy.
	FailbackMinHealthy int64         `toml:"failback_min_healthy"`
	Notify             string        `toml:"notify"`
	Mode               string        `toml:"mode"`
	Resources          []rawResource `toml:"resources"`
}

// rawResource holds the keys of every resource kind; convert.go rejects the
// ones that do not belong to the element's kind.
type rawResource struct {
	Kind string `toml:"kind"`
	// vip
	Address   string  `toml:"address"`
	Interface string  `toml:"interface"`
	Label     string  `toml:"label"`
	GARP      rawGARP `toml:"garp"`
	// balancer
	Services []string `toml:"services"`
	// ipvs-sync (interface shared with vip)
	Role   string `toml:"role"`
	SyncID int64  `toml:"sync_id"`
	// conntrack-sync (interface shared with vip)
	Addresses []string `toml:"addresses"`
	Port      int64    `toml:"port"`
	// script
	Path    string `toml:"path"`
	Timeout string `toml:"timeout"`
}

// RawService is one [[service]] as written, for ServiceRules: leaves
// are TOML strings, integers and booleans; whether a key was written is
// asked of Keys.Has, not of zero values.
type RawService struct {
	Name           string       `toml:"name"`
	Listen         string       `toml:"listen"`
	Protocol       string       `toml:"protocol"`
	Mode           string       `toml:"mode"`
	Scheduler      string       `toml:"scheduler"`
	Persistent     string       `toml:"persistent"`
	Quiescent      bool         `toml:"quiescent"`
	Fallback       string       `toml:"fallback"`
	ConnectTimeout string       `toml:"connect_timeout"`
	IdleTimeout    string       `toml:"idle_timeout"`
	RequestTimeout string       `toml:"request_timeout"`
	BodyTimeout    string       `toml:"body_timeout"`
	MaxConn        int64        `toml:"maxconn"`
	MaxFlows       int64        `toml:"max_flows"`
	Check          RawCheck     `toml:"check"`
	Reals          []RawReal    `toml:"reals"`
	Backups        []RawReal    `toml:"backups"`
	Monitors       []RawMonitor `toml:"monitors"`
	Method         string       `toml:"method"`
	Interface      string       `toml:"interface"`
}

// RawCheck is a service's check table as written.
type RawCheck struct {
	Type     string   `toml:"type"`
	Request  string   `toml:"request"`
	Host     string   `toml:"host"`
	Receive  string   `toml:"receive"`
	Status   int64    `toml:"status"`
	Port     int64    `toml:"port"`
	Program  string   `toml:"program"`
	Args     []string `toml:"args"`
	Interval string   `toml:"interval"`
	Timeout  string   `toml:"timeout"`
	Rise     int64    `toml:"rise"`
	Fall     int64    `toml:"fall"`
}

// RawReal is one element of a service's reals or backups as written.
type RawReal struct {
	Address string `toml:"address"`
	Weight  int64  `toml:"weight"`
	Request string `toml:"request"`
	Receive string `toml:"receive"`
}

// RawMonitor is one element of a service's monitors as written.
type RawMonitor struct {
	Script   string   `toml:"script"`
	Args     []string `toml:"args"`
	Interval string   `toml:"interval"`
	Timeout  string   `toml:"timeout"`
}
