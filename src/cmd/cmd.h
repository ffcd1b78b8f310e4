/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#ifndef HQ_CMD_H
#define HQ_CMD_H

int cmd_diagnose(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_vms(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_lab(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_top(int argc, char **argv);
/* hiddenq probe NAME (cmd/probe_NAME.c) */
int cmd_probe_jitter(int argc, char **argv);
int cmd_probe_mem(int argc, char **argv);
int cmd_probe_io(int argc, char **argv);
int cmd_probe_oversub(int argc, char **argv);
int cmd_probe_dirty(int argc, char **argv);
int cmd_probe_net(int argc, char **argv);
int cmd_probe_wakeup(int argc, char **argv);

/* exit codes shared by every command (Nagios convention for diagnose) */
enum { EXIT_OK = 0, EXIT_WARN = 1, EXIT_CRIT = 2, EXIT_UNUSABLE = 3 };

#endif
