package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/foxstore/foxstore/backend/file"
)

// VerifyReport is the file backend's report with advice for a person.
type VerifyReport struct {
	file.Report
	Advice string `json:"advice"`
}

// Verify checks the file store at path without changing any file (see
// file.Verify) and says what to do about what it found.
func Verify(ctx context.Context, path string) (*VerifyReport, error) {
	rep, err := file.Verify(ctx, path)
	if err != nil {
		return nil, err
	}
	return &VerifyReport{Report: rep, Advice: advice(rep)}, nil
}

func advice(rep file.Report) string {
	rec := rep.Recovery
	if !rec.Opens {
		var good []string
		for _, f := range rep.Files {
			if (f.Role == file.RoleBackup || f.Role == file.RoleSnapshot) && f.Status == file.StatusOK {
				good = append(good, fmt.Sprintf("%s (%d keys, up to record %d)", f.Path, f.Live, f.UpTo))
			}
		}
		if len(good) > 0 {
			return fmt.Sprintf("the store cannot be opened: %s. Snapshots that verify: %s. To restore one, stop every program using the store, move the store's files aside and copy the snapshot to %s.",
				rec.Error, strings.Join(good, ", "), rep.Path)
		}
		return fmt.Sprintf("the store cannot be opened: %s. No snapshot verifies: restore it from an export or an online backup (foxstore backup) if you have one.", rec.Error)
	}
	if !rep.Damaged {
		return fmt.Sprintf("every file verifies; the store opens with %d live keys", rec.Keys)
	}
	from := "the log alone"
	if rec.Snapshot != "" {
		from = rec.Snapshot + " and the log"
	}
	msg := fmt.Sprintf("damage found; the store still opens from %s with %d live keys (up to record %d)", from, rec.Keys, rec.LastSeq)
	var first, last uint64
	for _, l := range rep.Lost {
		if l.FirstSeq > 0 {
			if first == 0 {
				first = l.FirstSeq
			}
			last = max(last, l.LastSeq)
		}
	}
	if first > 0 {
		msg += fmt.Sprintf(", but records %d to %d are lost", first, last)
	}
	msg += "."
	if len(rec.Repairs) > 0 {
		msg += " The next program that opens it for writing will " + strings.Join(rec.Repairs, "; ") + "."
	}
	return msg
}
