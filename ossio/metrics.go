package ossio

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the client's per-API counters to Prometheus, read from
// Stats at scrape time so the request path pays nothing for it.
func (c *Client) Collector() prometheus.Collector { return &collector{c: c} }

type collector struct{ c *Client }

var (
	descCalls   = prometheus.NewDesc("ossmount_oss_requests_total", "OSS requests sent, retries included.", []string{"api"}, nil)
	descErrors  = prometheus.NewDesc("ossmount_oss_request_errors_total", "OSS requests that failed.", []string{"api"}, nil)
	descRetries = prometheus.NewDesc("ossmount_oss_retries_total", "OSS requests that were retries.", []string{"api"}, nil)
	descBytes   = prometheus.NewDesc("ossmount_oss_bytes_total", "Object bytes moved, by direction.", []string{"api", "direction"}, nil)
)

func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCalls
	ch <- descErrors
	ch <- descRetries
	ch <- descBytes
}

func (m *collector) Collect(ch chan<- prometheus.Metric) {
	for api, s := range m.c.Stats() {
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(s.Calls), api)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(s.Errors), api)
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(s.Retries), api)
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(s.BytesUp), api, "up")
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(s.BytesDown), api, "down")
	}
}
