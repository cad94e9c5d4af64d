package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"fhirgate/audit"
	"fhirgate/auth"
	"fhirgate/auth/consent"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/fhir/validation"
)

// Assembly is what a whole server is made of, given its store and its token verifier: the one way the
// parts are wired together, used by the serve command and by the tests, so that the tests exercise the
// wiring that ships (the consent engine on the service's commits, the trail's stored events told to the
// notices and the checkpoints, the decision point behind the token policy).
type Assembly struct {
	// Store holds everything; its owner opens and closes it.
	Store store.Store
	// Gateway is the HTTP side's configuration; Assemble fills in its Audit and Checkpoints.
	Gateway Config
	// Service configures the FHIR service; its BaseURL is the gateway's.
	Service rest.Config
	// Authenticator verifies bearer tokens for the token policy.
	Authenticator *auth.Authenticator
	// Policy, when set, replaces the token policy (tests and baselines of the FHIR layer without tokens).
	Policy Policy
	// Access configures the decision point; Assemble gives it its consent engine and actors cache.
	Access auth.Options
	// ConsentDefault decides for a patient without an applicable Consent; NoConsent runs without consent
	// enforcement (benchmark baselines only).
	ConsentDefault consent.Decision
	NoConsent      bool
	// Audit configures the trail (its Sink defaults to the store); NoAudit runs without one (benchmark
	// baselines only).
	Audit   audit.Config
	NoAudit bool
	// AuditSink, when set and Audit.Sink is not, makes the trail's sink from the service that indexes the
	// events (tests check every event on its way to the store).
	AuditSink func(*rest.Service) audit.Sink
	// Notify, when set, sends the patients their notices.
	Notify *audit.NotifyConfig
	// Checkpoints, when set, signs the chain's head as the server runs (its Store is the store).
	Checkpoints *audit.CheckpointConfig
	// Export, when set, enables bulk export ($export) with this configuration; Assemble gives it the
	// trail as its audit (its own Audit, if any, is called once the trail has recorded), the keeping of
	// its guards' principals (unless it has its own) and, unless it has its own Busy, the server's
	// requests in progress to yield to.
	Export *rest.ExportConfig
	// ExportYieldAt is the number of FHIR requests in progress at which exports pause between patients
	// (default 4; negative: never), so that live traffic keeps its latency.
	ExportYieldAt int
	// Metrics are the server's metrics (new ones when nil); Logger its logger.
	Metrics *Metrics
	Logger  *slog.Logger
}

// Assembled is a server and the parts a caller may need to reach.
type Assembled struct {
	Server      *Server
	Service     *rest.Service
	Access      *auth.Access
	Trail       *audit.Trail        // nil without a trail
	Notices     *audit.Notifier     // nil without notices
	Checkpoints *audit.Checkpointer // nil without checkpoints
	Exports     *rest.Exports       // nil without bulk export
}

// Assemble wires a server.
func Assemble(a Assembly) (*Assembled, error) {
	if a.Store == nil {
		return nil, errors.New("gateway: an assembly needs a store")
	}
	if a.Authenticator == nil && a.Policy == nil {
		return nil, errors.New("gateway: an assembly needs an authenticator (or, in tests, a policy)")
	}
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	if a.Metrics == nil {
		a.Metrics = NewMetrics(nil)
	}
	validator, err := validation.New(validation.Config{})
	if err != nil {
		return nil, err
	}
	a.Service.BaseURL = a.Gateway.BaseURL
	svc, err := rest.New(a.Service, a.Store, validator)
	if err != nil {
		return nil, err
	}
	// The server's own Device, which every AuditEvent and notice names, resolves.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.EnsureServerDevice(ctx, a.Gateway.Version); err != nil {
		return nil, fmt.Errorf("gateway: storing the server's Device: %w", err)
	}
	out := &Assembled{Service: svc}
	opts := a.Access
	if !a.NoConsent {
		opts.Consent = auth.AttachConsent(svc, a.ConsentDefault)
	}
	opts.Actors = auth.NewActors(svc)
	out.Access = auth.NewAccess(svc.Engine(), opts)

	if !a.NoAudit {
		if a.Notify != nil {
			out.Notices = audit.NewNotifier(*a.Notify, svc, a.Logger)
		}
		if a.Checkpoints != nil {
			cc := *a.Checkpoints
			cc.Store = a.Store
			if cc.Logger == nil {
				cc.Logger = a.Logger
			}
			if out.Checkpoints, err = audit.NewCheckpointer(cc); err != nil {
				return nil, err
			}
			a.Gateway.Checkpoints = out.Checkpoints.Latest
		}
		tc := a.Audit
		switch {
		case tc.Sink != nil:
		case a.AuditSink != nil:
			tc.Sink = a.AuditSink(svc)
		default:
			tc.Sink = audit.NewStoreSink(a.Store, svc)
		}
		tc.Indexer, tc.BaseURL = svc, a.Gateway.BaseURL
		if tc.Logger == nil {
			tc.Logger = a.Logger
		}
		stored := tc.Stored
		tc.Stored = func(recs []audit.Record) {
			if out.Notices != nil {
				out.Notices.Consider(recs)
			}
			if out.Checkpoints != nil {
				out.Checkpoints.Counted(len(recs))
			}
			if stored != nil {
				stored(recs)
			}
		}
		if out.Trail, err = audit.New(tc); err != nil {
			return nil, err
		}
		a.Gateway.Audit = out.Trail
	}

	var server atomic.Pointer[Server] // for the exports, which start before it
	if a.Export != nil {
		ec := *a.Export
		if out.Trail != nil {
			recorded, then := exportAudit(out.Trail, a.Gateway.BaseURL), ec.Audit
			ec.Audit = func(ctx context.Context, x rest.ExportAudit) error {
				if err := recorded(ctx, x); err != nil || then == nil {
					return err
				}
				return then(ctx, x)
			}
		}
		if ec.SaveGuard == nil && ec.RestoreGuard == nil {
			ec.SaveGuard, ec.RestoreGuard = saveExportGuard, restoreExportGuard(out.Access)
		}
		if ec.Busy == nil && a.ExportYieldAt >= 0 {
			yieldAt := cmp.Or(a.ExportYieldAt, 4)
			ec.Busy = func() bool { s := server.Load(); return s != nil && s.Live() >= yieldAt }
		}
		if out.Exports, err = rest.NewExports(svc, ec); err != nil {
			return nil, err
		}
	}

	policy := a.Policy
	if policy == nil {
		policy = TokenPolicy{Auth: a.Authenticator, Access: out.Access}
	}
	if a.Gateway.Logger == nil {
		a.Gateway.Logger = a.Logger
	}
	if out.Server, err = New(a.Gateway, svc, a.Store, policy, a.Metrics); err != nil {
		return nil, err
	}
	server.Store(out.Server)
	return out, nil
}

// Close records what the trail still holds (the counts of refusals in aggregate), sends the notices
// still queued and takes the last checkpoint. Call it once the server takes no more requests, before the
// store is closed.
func (a *Assembled) Close(ctx context.Context) error {
	if a.Exports != nil {
		if err := a.Exports.Close(); err != nil {
			a.Server.cfg.Logger.Warn("closing the bulk exports", "error", err)
		}
	}
	if a.Trail != nil {
		a.Trail.Close(ctx)
	}
	if a.Notices != nil {
		a.Notices.Close(ctx)
	}
	if a.Checkpoints != nil {
		return a.Checkpoints.Close(ctx)
	}
	return nil
}
