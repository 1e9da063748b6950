package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aloro/wa-senders/shared/outbound"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/webhook"
)

// A record is kept as the DynamoDB store keeps it (shared/store/records.go): its document
// (records), the wamid it is bound to (recWAMIDs: the send's, or the first status's), the
// delivery status the webhook wrote (statuses) and the wamid of a 131026 once written
// (undeliverable); document writes touch only the first two. Readers get
// the two merged (recordLocked).

// recordLocked returns the record of id as every reader sees it: the document with its
// delivery status merged. s.mu must be held.
func (s *Store) recordLocked(id string) (*outbound.Record, bool) {
	raw, ok := s.records[id]
	if !ok {
		return nil, false
	}
	rec := decode[outbound.Record](raw)
	if d, ok := s.statuses[id]; ok {
		webhook.MergeDelivery(rec, d)
	}
	return rec, true
}

// PutRecord stores an outbound record and its wamid lookup (test seeding; the outbound side
// writes records through its own port).
func (s *Store) PutRecord(_ context.Context, rec outbound.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putRecord(&rec)
	if rec.WAMID != "" {
		s.wamids[rec.WAMID] = rec.ID
	}
	return nil
}

// GetRecord returns the record of request id, or persist.ErrNotFound.
func (s *Store) GetRecord(_ context.Context, id string) (*outbound.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.recordLocked(id)
	if !ok {
		return nil, persist.ErrNotFound
	}
	return rec, nil
}

// RequestIDForWAMID returns the request id a wamid belongs to, or persist.ErrNotFound.
func (s *Store) RequestIDForWAMID(_ context.Context, wamid string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.wamids[wamid]
	if !ok {
		return "", persist.ErrNotFound
	}
	return id, nil
}

// UpdateKnownRecord applies fn to an existing record (as readers see it) and writes its
// document.
func (s *Store) UpdateKnownRecord(_ context.Context, id string, fn persist.Update[outbound.Record]) (*outbound.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recordLocked(id)
	if !ok {
		return nil, fmt.Errorf("update record %s: %w", id, persist.ErrNotFound)
	}
	in := *cur
	next, err := fn(&in)
	if err == nil && next == nil {
		err = persist.ErrNoChange
	}
	if errors.Is(err, persist.ErrNoChange) {
		return cur, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update record %s: %w", id, err)
	}
	next.ID = id
	s.putRecord(next)
	out, _ := s.recordLocked(id)
	return out, nil
}

// ApplyDeliveryStatus writes d onto the record of id under the DynamoDB store's condition:
// the record exists, is bound to no wamid or d's, and holds no status of d's wamid with a key
// at or above d's.
func (s *Store) ApplyDeliveryStatus(_ context.Context, id string, d webhook.DeliveryStatus) (webhook.StatusWrite, error) {
	if d.WAMID == "" || d.Key == "" {
		return webhook.StatusWrite{}, fmt.Errorf("apply delivery status to %s: no wamid or status", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.recordLocked(id)
	if !ok {
		return webhook.StatusWrite{}, persist.ErrNotFound
	}
	w := webhook.StatusWrite{Prev: prev, WAMID: s.recWAMIDs[id], Undeliverable: s.undeliverable[id] == d.WAMID}
	if bound, ok := s.recWAMIDs[id]; ok && bound != d.WAMID {
		return w, nil
	}
	if cur, ok := s.statuses[id]; ok && cur.WAMID == d.WAMID && cur.Key >= d.Key {
		return w, nil
	}
	s.recWAMIDs[id] = d.WAMID
	s.statuses[id] = d
	if d.MarksUndeliverable {
		s.undeliverable[id] = d.WAMID
	}
	w.Applied = true
	return w, nil
}

// PutOrphanStatus keeps the newest status per (wamid, status).
func (s *Store) PutOrphanStatus(_ context.Context, o webhook.OrphanStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := o.Status.ID + "|" + o.Status.Status
	if cur, ok := s.orphans[k]; ok && cur.Status.Timestamp.Time().After(o.Status.Timestamp.Time()) {
		return nil
	}
	s.orphans[k] = o
	return nil
}

// ApplyOrphans applies the statuses kept for wamid to the record of requestID (folded into one
// ApplyDeliveryStatus) and removes them.
func (s *Store) ApplyOrphans(ctx context.Context, wamid, requestID string) (*outbound.Record, error) {
	s.mu.Lock()
	var orphans []webhook.OrphanStatus
	for _, k := range slices.Sorted(maps.Keys(s.orphans)) {
		if strings.HasPrefix(k, wamid+"|") {
			orphans = append(orphans, s.orphans[k])
		}
	}
	s.mu.Unlock()
	var rec *outbound.Record
	var err error
	if d, ok := webhook.FoldOrphans(orphans, s.now()); ok {
		var w webhook.StatusWrite
		w, err = s.ApplyDeliveryStatus(ctx, requestID, d)
		if err == nil && w.WAMID != "" && w.WAMID != wamid {
			return nil, nil // another message's record so far: the statuses wait (as in the DynamoDB store)
		}
		if rec = w.Prev; w.Applied {
			webhook.MergeDelivery(rec, d)
		}
	} else {
		rec, err = s.GetRecord(ctx, requestID)
	}
	if errors.Is(err, persist.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, o := range orphans {
		// Only the status just applied: a newer one stored meanwhile stays for the next call,
		// as the DynamoDB store's conditional delete keeps it.
		k := wamid + "|" + o.Status.Status
		if cur, ok := s.orphans[k]; ok && cur.Status.Timestamp.Time().Equal(o.Status.Timestamp.Time()) {
			delete(s.orphans, k)
		}
	}
	s.mu.Unlock()
	return rec, nil
}
