# Multi-cluster demo targets (kind + vcluster), all driven by cicd.sh.
# Settings (STORE=gist|redis|lease, GIST_ID, KIND_CLUSTER, ...) come from the
# environment; see ./cicd.sh help. GITHUB_TOKEN is read from the environment
# by cicd.sh and stored in a Kubernetes Secret, never on a command line.
.PHONY: provision deploy check-leader failover restore destroy

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
