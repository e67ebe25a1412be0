# Multi-cluster demo targets (kind + vcluster), all driven by cicd.sh.
# Settings (STORE=gist|redis|lease, GIST_ID, KIND_CLUSTER, ...) come from the
# environment; see ./cicd.sh help. GITHUB_TOKEN is read from the environment
# by cicd.sh and stored in a Kubernetes Secret, never on a command line.
.PHONY: provision deploy check-leader failover restore destroy image image-push

# The container image. elector publishes none: build it, push it to a
# registry your cluster can pull from, and give the chart its repository:
#   make image IMAGE=registry.example/elector:0.1.0
#   make image-push IMAGE=registry.example/elector:0.1.0
#   helm install ... --set image.repository=registry.example/elector --set image.tag=0.1.0
# Needs a running docker engine (podman works too: DOCKER=podman).
IMAGE ?= elector:$(VERSION)
DOCKER ?= docker

image:  ## docker build -t $(IMAGE) . (needs a docker engine)
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make image: '$(DOCKER) info' failed: install and start a docker engine (or DOCKER=podman)" >&2; exit 1; }
	$(DOCKER) build -t $(IMAGE) .

image-push: image  ## push $(IMAGE) (docker login to its registry first)
	$(DOCKER) push $(IMAGE)

provision:  ## kind cluster + vclusters napoleon, stalin, cleopatra
	@./cicd.sh provision

deploy:  ## build+load the image, helm install elector into every vcluster
	@./cicd.sh deploy

check-leader:  ## one line per pod: cluster, pod, is_leader, leader, term
	@./cicd.sh check-leader

failover:  ## scale the leader's cluster to 0 and show the new leader
	@./cicd.sh failover

restore:  ## scale every cluster's deployment back up after failover
	@./cicd.sh restore

destroy:  ## delete the vclusters and the kind cluster
	@./cicd.sh destroy
