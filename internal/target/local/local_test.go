package local_test

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/local"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

func TestConformance(t *testing.T) {
	targettest.Suite(t, func(t *testing.T) target.Target {
		return local.New("local", t.TempDir())
	})
}
