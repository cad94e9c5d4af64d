package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"fhirgate/audit"
)

// NoticeWebhook returns what tells another system of each patient notice: a POST of the notice as JSON
// (event, patient, communication, sent: no clinical content) to url, with client (one with a 5 s timeout
// when nil). A status of 300 or more is a failure, which the notifier logs.
func NoticeWebhook(url string, client *http.Client) func(context.Context, audit.Notice) error {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return func(ctx context.Context, n audit.Notice) error {
		payload, err := json.Marshal(n)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		if err := resp.Body.Close(); err != nil {
			return err
		}
		if resp.StatusCode >= 300 {
			return fmt.Errorf("the webhook answered %d", resp.StatusCode)
		}
		return nil
	}
}
