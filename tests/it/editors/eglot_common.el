;;; eglot_common.el --- What the Emacs drivers share: the result file, waiting, visiting  -*- lexical-binding: t; -*-

;; Loaded by eglot.el and eglot_package.el, which register the server themselves before visiting.

(require 'eglot)
(require 'json)
(require 'cl-lib)

(defvar sk-bin (getenv "SAMOKODER_BIN"))
(defvar sk-root (file-name-as-directory (getenv "SAMOKODER_WORKSPACE")))
(defvar sk-result-path (getenv "SAMOKODER_EDITOR_RESULT"))
(defvar sk-result (list (cons 'version (format "%d.%d" emacs-major-version emacs-minor-version))
                        (cons 'eglot (if (fboundp 'package-get-version) (or (ignore-errors (package-get-version)) "") ""))))
(defvar sk-messages nil "Every window/showMessage text, newest first.")
(defvar sk-edit-questions nil "Eglot's questions before it applies a server's edit.")

(defun sk-note (key value)
  (setq sk-result (cons (cons key value) sk-result)))

(defun sk-finish (err)
  (when err
    (sk-note 'error err)
    ;; What passed between eglot and the server, and what the server logged, to see why.
    (dolist (buffer (buffer-list))
      (when (string-match-p "EGLOT" (buffer-name buffer))
        (with-current-buffer buffer
          (sk-note (intern (buffer-name buffer))
                   (buffer-substring-no-properties (max (point-min) (- (point-max) 20000)) (point-max)))))))
  (with-temp-file sk-result-path
    (insert (json-encode sk-result)))
  (kill-emacs 0))

(defun sk-wait (seconds what condition)
  (let ((deadline (+ (float-time) seconds)))
    (while (not (funcall condition))
      (when (> (float-time) deadline)
        (sk-finish (format "timed out waiting for %s; messages: %S" what sk-messages)))
      (accept-process-output nil 0.05))))

(cl-defmethod eglot-handle-notification :before (_server (_method (eql window/showMessage)) &key message &allow-other-keys)
  (push message sk-messages))

(defun sk-said (text)
  (cl-some (lambda (m) (string-match-p (regexp-quote text) m)) sk-messages))

(defun sk-visit (rel)
  (find-file (expand-file-name rel sk-root))
  ;; eglot-ensure connects on the next command; run that hook as a command loop would.
  (run-hooks 'post-command-hook)
  (sk-wait 30 (format "eglot to manage %s" rel) (lambda () (and (eglot-current-server) eglot--managed-mode)))
  (current-buffer))

(defun sk-goto-line-containing (text)
  (goto-char (point-min))
  (unless (search-forward text nil t)
    (sk-finish (format "no line with %s in %s" text (buffer-string))))
  (back-to-indentation))

;; The right implementation of the TODO in the clamp project (tests/it/editors.rs).
(defconst sk-right "Math.max(min, Math.min(value, max))")

(provide 'eglot_common)
