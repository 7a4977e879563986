package bench

import (
	"time"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/proccpu"
)

// cpuSplit is the CPU time of each part of a benchmark row.
type cpuSplit struct{ edge, bridges, children, clients time.Duration }

// sampleCPU reads the CPU time used so far by Traefik (edge), the bridges, their
// children and this process.
func sampleCPU(edge int, bridges []int) cpuSplit {
	return cpuSplit{
		edge: proccpu.Of(edge), bridges: proccpu.Of(bridges...),
		children: proccpu.Of(proccpu.Children(bridges...)...), clients: proccpu.Self(),
	}
}

func (a cpuSplit) sub(b cpuSplit) cpuSplit {
	return cpuSplit{a.edge - b.edge, a.bridges - b.bridges, a.children - b.children, a.clients - b.clients}
}
