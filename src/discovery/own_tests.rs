use super::*;

const ID: &str = "c89ee6a31dc8a2f5e1b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819";

#[test]
fn mountinfo_finds_the_hostname_mount() {
    let text = format!(
        "1 0 0:1 / / rw - overlay overlay rw\n\
         2 1 8:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n"
    );
    assert_eq!(id_from_mountinfo(&text).as_deref(), Some(ID));
    assert_eq!(id_from_mountinfo("1 0 0:1 / / rw - overlay x rw\n"), None);
}

#[test]
fn cgroup_v1_and_systemd_paths() {
    assert_eq!(
        id_from_cgroup(&format!("12:cpu:/docker/{ID}\n")).as_deref(),
        Some(ID)
    );
    let scope = format!("0::/system.slice/docker-{ID}.scope\n");
    assert_eq!(id_from_cgroup(&scope).as_deref(), Some(ID));
    assert_eq!(id_from_cgroup("0::/\n"), None);
}
