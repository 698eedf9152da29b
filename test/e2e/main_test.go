package e2e

import (
	"github.com/hapair/hapair/test/lab"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(lab.Main(m)) }
