package initproc

import (
	"fmt"
	"os"
)

func setOOMScoreAdj(procfs *os.File, adj *int) error {
	if adj == nil {
		return nil
	}
	if err := writeProc(procfs, selfProc("oom_score_adj"), fmt.Sprint(*adj)); err != nil {
		return fmt.Errorf("process.oomScoreAdj %d: %w", *adj, err)
	}
	return nil
}
