package server

import (
	"net/http"
	"slices"
)

// withAuth requires the API token, when one is set, on every path but
// /api/health, which load balancers probe without credentials.
func (s *Server) withAuth(next http.Handler) http.Handler {
	if s.cfg.APIToken == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/health" || r.Method == http.MethodOptions || tokenMatches(r.Header.Get("Authorization"), s.cfg.APIToken) {
			next.ServeHTTP(w, r)
			return
		}
		s.stats.unauthorized.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="bijotel"`)
		writeError(w, http.StatusUnauthorized, "missing or invalid bearer token: send Authorization: Bearer TOKEN")
	})
}

// withCORS sends CORS headers to browsers from the configured origins only. With no
// origins configured it adds no CORS headers, so browsers block
// cross-origin reads.
func (s *Server) withCORS(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && slices.Contains(s.cfg.CORSOrigins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Vary", "Origin")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
