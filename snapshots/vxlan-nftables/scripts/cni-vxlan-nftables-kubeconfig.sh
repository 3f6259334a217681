cat /etc/rancher/k3s/k3s.yaml
