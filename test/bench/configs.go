package main

import (
	"fmt"
	"path/filepath"
)

// The two nginx configs below and HAProxy's (package benchconf, shared
// with the kernel bench) give each proxy the same cores (as many threads
// or worker processes as it may use, proxyCPUs: 1 when pinned; hapair's
// process has that CPU affinity, with GOMAXPROCS at least 2: proxy.New
// raises it), round robin over the same
// two backends, keep-alive to the backends in HTTP mode, X-Forwarded-For,
// and no health checks (hapair's side runs none either).

func nginxBackendConf(dir, b1, b2 string) string {
	return fmt.Sprintf(`worker_processes %[6]d;
pid %[1]s;
error_log %[2]s warn;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path %[5]s;
  proxy_temp_path %[5]s;
  fastcgi_temp_path %[5]s;
  uwsgi_temp_path %[5]s;
  scgi_temp_path %[5]s;
  server { listen %[3]s; location / { return 200 "hello from b1\n"; } }
  server { listen %[4]s; location / { return 200 "hello from b2\n"; } }
}
`, filepath.Join(dir, "backend.pid"), filepath.Join(dir, "backend.err"), b1, b2, filepath.Join(dir, "backend-tmp"), proxyCPUs())
}

func nginxProxyConf(dir, l4, web, udp, b1, b2, u1, u2 string) string {
	return fmt.Sprintf(`load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes %[8]d;
pid %[1]s;
error_log %[2]s warn;
events { worker_connections 16384; }
stream {
  upstream l4b { server %[5]s; server %[6]s; }
  server { listen %[3]s; proxy_pass l4b; proxy_connect_timeout 5s; }
  upstream udpb { server %[9]s; server %[10]s; }
  server { listen %[11]s udp; proxy_pass udpb; proxy_timeout 60s; }
}
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path %[7]s;
  proxy_temp_path %[7]s;
  fastcgi_temp_path %[7]s;
  uwsgi_temp_path %[7]s;
  scgi_temp_path %[7]s;
  upstream webb { server %[5]s; server %[6]s; keepalive 256; }
  server {
    listen %[4]s;
    location / {
      proxy_pass http://webb;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`, filepath.Join(dir, "nginx-proxy.pid"), filepath.Join(dir, "nginx-proxy.err"), l4, web, b1, b2, filepath.Join(dir, "proxy-tmp"), proxyCPUs(), u1, u2, udp)
}
